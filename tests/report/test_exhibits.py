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
