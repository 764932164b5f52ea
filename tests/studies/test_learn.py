"""The interactive notebook without a browser: its engine (analysis.studies.learn) reproduces the
study's DGP, its expected values are the noiseless estimates, its verdict names the mechanisms in
English and Chinese, every callback takes under a second of CPU on the default 337-city panel, and
notebooks/learn/learn_staggered_did.py executes headless with its defaults."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from analysis.data.synthetic import simulate_panel
from analysis.studies import learn

COLUMNS = ["log_exports", "log_gdp_pc", "pilot_year", "pilot", "rail", *learn.COVARIATES]


@pytest.fixture(scope="module")
def lab() -> learn.Lab:
    from analysis.figures.style import use_house_style

    use_house_style()
    return learn.lab()


def _same_panel(mine, theirs, atol=1e-10):
    assert list(mine["city_code"]) == list(theirs["city_code"])
    assert list(mine["year"]) == list(theirs["year"])
    for col in COLUMNS:
        np.testing.assert_allclose(
            mine[col].to_numpy(float), theirs[col].to_numpy(float), atol=atol
        )


def test_default_knobs_are_the_study_dgp(lab):
    """Knobs() composes exactly simulate_panel's default panel and truth (log exports to 1e-10:
    the composition rearranges simulate_panel's arithmetic)."""
    panel, truth = simulate_panel(*lab.inputs, lab.design)
    mine, _, t = lab.compose(learn.Knobs())
    _same_panel(mine, panel)
    assert t["total"] == pytest.approx(truth["pilot"]["att_overall"], abs=1e-12)
    assert t["direct"] == pytest.approx(truth["pilot"]["att_overall_direct"], abs=1e-12)
    by_event = {int(e): v for e, v in truth["pilot"]["att_by_event_time"].items() if -5 <= int(e)}
    for e, value in t["by_event"].items():
        assert value == pytest.approx(by_event.get(int(e), 0.0), abs=1e-12)
    assert learn.default_knobs()["never_treated"] == lab.n_never == 174
    assert lab.n_cities == 337


def test_knobs_that_are_dgp_parameters_give_simulate_panels(lab):
    """Knobs that map onto params.yaml's synthetic section give the panel simulate_panel draws
    with those values (noise, province shocks, growth, GDP feedback, rail, effect sizes)."""
    k = learn.Knobs(
        effect_size=0.5,
        growth=0.05,
        noise_sd=0.3,
        province_year_sd=0.02,
        gdp_feedback=0.25,
        rail_att=0.12,
        rail_growth=0.01,
    )
    d = lab.design
    design = replace(
        d,
        pilot_att_by_batch={b: 0.5 * a for b, a in d.pilot_att_by_batch.items()},
        pilot_att_growth=0.05,
        noise_sd=0.3,
        province_year_sd=0.02,
        gdp_export_feedback=0.25,
        rail_att=0.12,
        rail_att_growth=0.01,
        laos_att=0.12,  # the lab's rail knob covers both links (the corridor's effect static)
    )
    panel, truth = simulate_panel(*lab.inputs, design)
    mine, _, t = lab.compose(k)
    _same_panel(mine, panel)
    assert t["total"] == pytest.approx(truth["pilot"]["att_overall"], abs=1e-12)
    flat = learn.Knobs(heterogeneity=0.0)
    mean = np.mean(list(d.pilot_att_by_batch.values()))
    panel, truth = simulate_panel(
        *lab.inputs, replace(d, pilot_att_by_batch=dict.fromkeys(d.pilot_att_by_batch, mean))
    )
    _same_panel(lab.compose(flat)[0], panel)


def test_timing_knobs(lab):
    cohorts = lambda k: lab.compose(k)[2]["design"]["cohorts"]
    assert cohorts(learn.Knobs()) == [2015, 2016, 2019, 2020, 2022, 2023]
    assert cohorts(learn.Knobs(spacing=0.0)) == [2015]
    assert cohorts(learn.Knobs(shift=1)) == [2016, 2017, 2020, 2021, 2023]  # 2024: after the panel
    assert cohorts(learn.Knobs(spacing=0.5, shift=-2)) == [2013, 2014, 2015, 2016, 2017]
    for n in (0, 100, 250):
        design = lab.compose(learn.Knobs(never_treated=n))[2]["design"]
        assert design["never"] == n and design["treated"] == 337 - n
    # anticipation: effects before designation, outside the coded treated city-years
    t = lab.compose(learn.Knobs(anticipation=2))[2]
    assert t["by_event"].loc[-2] > 0 and t["by_event"].loc[-3] == 0
    assert t["total"] > lab.compose(learn.Knobs())[2]["total"]  # effects start earlier, grow more


def test_expected_values_are_the_noiseless_estimates(lab):
    """Without noise every estimate equals its expected value; the noise knobs move the estimates,
    never the expected values (estimators linear in the outcome, noise of mean zero)."""
    quiet = learn.scene(learn.Knobs(noise_sd=0.0, province_year_sd=0.0)).estimates
    np.testing.assert_allclose(quiet["estimate"], quiet["expected"], atol=1e-10)
    base = learn.scene(learn.Knobs()).estimates
    noisy = learn.scene(learn.Knobs(noise_sd=0.4, province_year_sd=0.2)).estimates
    np.testing.assert_allclose(noisy["expected"], base["expected"], atol=1e-10)
    np.testing.assert_allclose(quiet["expected"], base["expected"], atol=1e-10)
    assert (noisy["estimate"] - base["estimate"]).abs().min() > 1e-4
    assert list(base["estimator"]) == ["TWFE", "CS", "SA", "BJS"]


def test_cs_adjusted_expected_by_the_identity_equals_the_estimate(lab):
    from analysis.did.estimate import estimate

    panel, quiet, _ = lab.compose(learn.Knobs(growth=0.05, gdp_feedback=0.3))
    name, opts = learn._options("cs", panel, True)
    fit = estimate(name, panel, **learn.SPEC, **opts).fit
    direct = estimate(name, quiet, **learn.SPEC, **opts).att
    assert learn.cs_adjusted_expected(fit, quiet, opts) == pytest.approx(direct, abs=1e-10)


def _verdict(k: learn.Knobs) -> dict[str, list[str]]:
    s = learn.scene(k)
    tol = learn.yardstick(s)
    return {r.estimator: learn.reasons(s, r.estimator) for r in s.estimates.itertuples()
            if abs(r.bias) >= tol}  # fmt: skip


def test_the_verdict_follows_the_mechanisms(lab):
    # the study's DGP and estimators: TWFE's own problems on top of the bad control
    default = _verdict(learn.Knobs())
    assert default["TWFE"][:2] == ["forbidden", "weighting"]
    assert default["CS"] == default["BJS"] == ["bad_control"]
    # one constant effect, no mediator: nobody is biased
    assert _verdict(learn.Knobs(growth=0.0, heterogeneity=0.0, gdp_feedback=0.0)) == {}
    # without controls the robust estimators target the total effect; TWFE stays biased
    assert set(_verdict(learn.Knobs(controls=False))) == {"TWFE"}
    # anticipation biases the estimators that compare with the year before designation
    anticipation = _verdict(learn.Knobs(anticipation=1))
    assert {"CS", "SA", "BJS", "TWFE"} <= set(anticipation)
    assert all("anticipation" in why for why in anticipation.values())
    # no never-treated cities: the forbidden comparisons weigh more; CS and SA still run
    none = learn.scene(learn.Knobs(never_treated=0))
    assert none.forbidden_weight > 3 * learn.scene(learn.Knobs()).forbidden_weight
    assert list(none.estimates["estimator"]) == ["TWFE", "CS", "SA", "BJS"] and not none.failed


NUMBER = re.compile(r"[-+]?\d+\.\d+")
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}")


@pytest.mark.parametrize(
    "k",
    [
        learn.Knobs(),
        learn.Knobs(controls=False, rail_att=0.3),
        learn.Knobs(anticipation=2, rail_growth=0.02),
        learn.Knobs(growth=0.0, heterogeneity=0.0, gdp_feedback=0.0),
        learn.Knobs(never_treated=0, spacing=0.0),
        learn.Knobs(never_treated=337),
    ],
)
def test_the_sentence_in_english_and_chinese(lab, k):
    en, zh = learn.sentence(k, "en"), learn.sentence(k, "zh")
    assert en and zh and not CJK.search(en)
    assert set(ENGLISH.findall(zh)) <= {"TWFE", "GDP", "BJS"}, zh
    assert NUMBER.findall(en) == NUMBER.findall(zh)  # the same numbers, in the same order
    s = learn.scene(k)
    if not (s.estimates["bias"].abs() < learn.yardstick(s)).all():  # else "no estimator ..."
        for name in s.estimates["estimator"]:
            assert name in en and name in zh


def test_sentence_examples(lab):
    s = learn.scene(learn.Knobs())
    row = s.estimates.set_index("estimator").loc["TWFE"]
    expected, truth, bias = f"{row['expected']:.3f}", f"{s.truth:.3f}", f"{row['bias']:.3f}"
    en = learn.sentence(learn.Knobs())
    assert en.startswith(f"TWFE is biased by {bias} (expected {expected} against the true {truth})")
    assert bias.startswith("-0.0")  # TWFE falls short of the growing effects
    assert "forbidden comparisons" in en and "a bad control" in en
    zh = learn.sentence(learn.Knobs(), "zh")
    assert zh.startswith(f"TWFE有偏，偏差 {bias}（期望值 {expected}，真实值 {truth}）")
    assert "禁止的比较" in zh and "坏控制" in zh
    assert "same year" in learn.sentence(learn.Knobs(never_treated=0, spacing=0.0))


def test_figures_draw_in_both_languages_without_warnings(lab):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for lang in ("en", "zh"):
            for k in (learn.Knobs(), learn.Knobs(never_treated=0, spacing=0.0)):
                image, _ = learn.redraw(k, lang)
                assert image[:4] == b"\x89PNG"
    assert not [str(w.message) for w in caught], [str(w.message) for w in caught]


def test_the_notebook_executes_headless_with_its_defaults(tmp_path):
    """notebooks/learn/learn_staggered_did.py runs top to bottom in a kernel (widgets built, the
    first redraw made inside the Output widget, the static copy below), with no error and no
    warning, in under a minute. Run in a process of its own, as `make learn` runs it: inside the
    test runner's worker, after the widget tests of this file, the kernel once took ~600 s to
    start the cell after the sliders (the notebook itself runs in ~15 s)."""
    import json
    import subprocess
    import sys

    import nbformat

    code = (
        "import json, sys; from pathlib import Path; from analysis.studies import tutorials; "
        "r = tutorials.run('learn_staggered_did', output_dir=Path(sys.argv[1])); "
        "print(json.dumps({'status': r.status, 'seconds': r.seconds, "
        "'notebook': str(r.notebook), 'html': str(r.html)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "ok" and result["seconds"] < 60, result
    nb = nbformat.read(result["notebook"], as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o.text for o in outputs if o.get("name") == "stderr"]
    widgets = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets, "the sliders were not built"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    texts = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert images and texts == [learn.sentence(learn.Knobs(), "en")]
    assert Path(result["html"]).exists()
