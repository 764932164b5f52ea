"""Figure strings in both languages: the data's labels translated, p-values never printed as 0,
figures saved as <stem>.<lang>.png/.svg with the SYNTHETIC badge in that language."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from analysis.did.bacon import TYPES
from analysis.figures.labels import LABELS, label, p_text, spec_choice, tr
from analysis.figures.style import save_figure, use_house_style
from analysis.studies.robustness.spec_curve import DEFAULT_OPTIONS
from analysis.studies.simulation import COMPARISON, DEFAULT

ASCII_WORD = re.compile(r"[A-Za-z]{3,}")
ALLOWED = {"TWFE", "ATT", "PSM", "DID", "FLCI", "Bacon", "Goodman", "BJS", "FDI", "GDP"}
ALLOWED |= {"Conley", "SDID"}  # issue 19: a name and an acronym
ALLOWED |= {"Callaway", "Sant", "Anna", "Sun", "Abraham"}  # authors' names, kept in zh


def _english_words(text: str) -> set[str]:
    plain = re.sub(r"\$[^$]*\$", "", text)  # mathtext (Δ, M) is notation, not English
    return set(ASCII_WORD.findall(plain)) - ALLOWED


def test_every_label_has_both_languages():
    assert LABELS["en"].keys() == LABELS["zh"].keys()
    for key in LABELS["zh"]:
        assert not _english_words(
            label(key, "zh", value=0.1, draws=99, p="p = 0.5", n=3, se=0.2)
        ), key


@pytest.mark.parametrize(
    "text",
    [
        *TYPES,
        "DeltaSD",
        "DeltaRM",
        "FLCI",
        "C-LF",
        "BJS imputation ATT, headline (SE by city)",
        "BJS imputation ATT, headline (SE by province)",
        "BJS, randomization inference within provinces",
        "BJS, randomization inference within region x coast",
        "BJS, randomization inference unstratified",
        "BJS, wild bootstrap CI (province)",
        "Doubly robust CS, baseline covariates",
        "BJS, control: pilot free trade zone",
        "BJS, drop: pilot free trade zone",
        "TWFE (biased under staggered adoption; foil)",
        "Spec curve median (32 specifications, joint test 29 null draws)",
        "batch 3",
        "homogeneous, constant effect",
        DEFAULT,
        *COMPARISON,
        "region",
        "northeast",
        "interaction",
        "split",
        "log_gdp_pc",
        "TWFE (foil), SE Conley 100 km",
        "TWFE event study, mean post effect, SE Conley 300 km",
        "BJS ring design: direct effect (controls beyond 100 km)",
        "BJS ring design: spillover on untreated cities within 100 km",
    ],
)
def test_data_strings_are_translated(text):
    zh = tr(text, "zh")
    assert not _english_words(zh), f"{text!r} -> {zh!r}"
    assert tr(text, "en") == text


def test_spec_curve_choices_are_translated():
    for dim, options in DEFAULT_OPTIONS.items():
        for option in options:
            assert not _english_words(spec_choice(dim, option, "zh")), (dim, option)
    assert spec_choice("cluster", "city_code") == "cluster: city_code"  # as in params.yaml


@pytest.mark.parametrize(
    ("p", "draws", "text"),
    [
        (0.0, None, "p < 0.0001"),
        (3e-12, None, "p < 0.0001"),
        (0.0497, None, "p = 0.0497"),
        (0.41, None, "p = 0.410"),
        (0.01, 99, "p ≤ 0.01"),
        (1 / 1001, 1000, "p ≤ 0.001"),
        (0.0, 9999, "p < 0.0001"),
        (0.25, 99, "p = 0.250"),
    ],
)
def test_p_values_are_never_zero_and_floors_are_bounds(p, draws, text):
    assert p_text(p, draws) == text


def test_figures_are_saved_per_language_with_the_badge_in_that_language(tmp_path):
    use_house_style()
    for lang, badge in (("en", "SYNTHETIC"), ("zh", "模拟数据")):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        texts = []
        fig.savefig = _spy(fig.savefig, fig, texts)
        paths = save_figure(fig, tmp_path / f"stem.{lang}", "synthetic", lang)
        assert [p.name for p in paths] == [f"stem.{lang}.png", f"stem.{lang}.svg"]
        assert all(p.stat().st_size > 0 for p in paths)
        assert any(badge in t for t in texts), texts


def _spy(savefig, fig, texts):
    def wrapped(*args, **kwargs):
        texts[:] = [t.get_text() for t in fig.findobj(Text)]
        return savefig(*args, **kwargs)

    return wrapped


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_label_draws_without_a_missing_glyph(lang):
    """Issue 17: the M-bar of the HonestDiD figure was an empty box (a combining macron the fonts
    lack). Every label is drawn in both languages; a missing glyph fails the test."""
    import io
    import logging
    import warnings

    use_house_style()
    fig = plt.figure(figsize=(8, 2))
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("matplotlib")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for key in LABELS[lang]:
                text = label(key, lang, value=0.1, draws=99, p="p = 0.5", n=3, se=0.2)
                fig.text(0.01, 0.5, text)
                fig.savefig(io.BytesIO(), format="png")
                fig.texts.clear()
    finally:
        logger.removeHandler(handler)
        plt.close(fig)
    missing = [str(w.message) for w in caught if "glyph" in str(w.message).lower()]
    missing += [m for m in records if "glyph" in m.lower()]
    assert not missing, sorted(set(missing))[:5]
