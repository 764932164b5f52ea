"""The exhibit registry: ids, numbering, captions in every language, figure functions that exist."""

from __future__ import annotations

import importlib

import pytest

from analysis.report.exhibits import EXHIBITS, by_id, numbers, of_kind
from analysis.report.paper import LANGUAGES, text


def test_ids_and_stems_unique():
    assert len({e.id for e in EXHIBITS}) == len(EXHIBITS)
    assert len({(e.kind, e.stem) for e in EXHIBITS}) == len(EXHIBITS)


def test_numbering_follows_the_registry():
    nums = numbers()
    assert [nums[e.id] for e in of_kind("figure")] == list(range(1, len(of_kind("figure")) + 1))
    assert [nums[e.id] for e in of_kind("table")] == [1, 2, 3, 4]
    assert by_id("pilot_event_study").notebook == "pilot_zones.ipynb"
    with pytest.raises(KeyError):
        by_id("nope")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_exhibit_has_a_caption(lang):
    captions = text(lang)["captions"]
    assert {e.caption for e in EXHIBITS} == set(captions)
    assert all(captions[e.caption].strip() for e in EXHIBITS)


def test_languages_have_the_same_keys():
    def keys(node, prefix=""):
        if isinstance(node, dict):
            return {k for key, value in node.items() for k in keys(value, f"{prefix}{key}.")} | {
                prefix
            }
        return {prefix}

    en, zh = keys(text("en")), keys(text("zh"))
    # the zh text also carries the translation of Appendix A (English: data/reference/SOURCES.md itself)
    assert {k for k in zh - en if not k.startswith("appendix.")} == set()
    assert en - zh == set()


def test_figure_functions_exist():
    for e in of_kind("figure"):
        module, _, name = e.function.partition(":")
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        assert callable(obj), e.function


@pytest.mark.parametrize("lang", LANGUAGES)
def test_captions_name_the_cluster_level_their_intervals_use(lang):
    """A one-province user file clusters by city (the inference rule's fallback; the CGS bands and
    the spillover design record their own level): no caption may then say 'province'. A user's
    file has no truth: the CGS caption's file wording does not mention one."""
    from analysis.report.paper import caption_runs

    t = text(lang)
    city, province = t["clusters"]["city_code"], t["clusters"]["province"]
    one_province = {
        "pilot_zones": {"inference": {"cluster": "city_code"}},
        "rail_links": {"inference": {"cluster": "city_code"}},
        "network_coverage": {
            "inference": {"cluster": "city_code"},
            "design": {"designation_dose_response": {"cluster": "city_code"}},
        },
        "robustness": {"spillover": {"cluster": "city_code", "cluster_asked": "province"}},
        "corridor": {"inference": "city_code"},
    }
    word = "province" if lang == "en" else "省"
    for e in EXHIBITS:
        for synthetic in (True, False):
            said = "".join(r["s"] for r in caption_runs(e, t, synthetic, one_province))
            assert "{cluster}" not in said
            if e.stem not in ("corridor_sdid",):  # same-province placebo corridors: a design
                assert word not in said.replace(city, ""), (e.id, said)
    cgs = by_id("coverage_cgs_dose_response")
    for synthetic, truth in ((True, True), (False, False)):
        said = "".join(r["s"] for r in caption_runs(cgs, t, synthetic, one_province))
        assert (("truth" if lang == "en" else "真值") in said) is truth, said
        assert city in said and province not in said
    # the published panel: province wherever the study clusters by province
    published = {**one_province, "pilot_zones": {"inference": {"cluster": "province"}}}
    said = "".join(r["s"] for r in caption_runs(by_id("pilot_event_study"), t, True, published))
    assert province in said
