"""de Chaisemartin & D'Haultfoeuille (2024) ``did_multiplegt_dyn``: the reference's published example
(Favara & Imbs 2015, non-binary and non-absorbing deregulation index) and, on a binary staggered
panel, the quantities the estimator must equal (Callaway & Sant'Anna with not-yet-treated controls,
DID_M / WAS, the placebos' definition)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.did.callaway_santanna import att_gt
from analysis.did.continuous import did_continuous
from analysis.did.multiplegt_dyn import did_multiplegt_dyn
from analysis.did.results import EVENT_STUDY_COLUMNS, TIDY_COLUMNS

FAVARA = {
    "outcome": "Dl_vloans_b",
    "group": "county",
    "time": "year",
    "treatment": "inter_bra",
    "effects": 8,
    "placebo": 3,
    "cluster": "state_n",
    "same_switchers": True,
    "effects_equal": True,
}

# Published: py_did_multiplegt_dyn README (which reproduces R DIDmultiplegtDYN / Stata
# did_multiplegt_dyn), normalized=True; also in ../shared/validation/README.md.
# term: (estimate, SE, N, switchers), as printed.
PUBLISHED = {
    "Effect_1": ("0.0240393", "0.0184241", 3368, 773),
    "Effect_2": ("0.0116702", "0.0106714", 2604, 773),
    "Effect_3": ("0.0143443", "0.00828821", 2031, 773),
    "Effect_4": ("0.0115211", "0.00819515", 1541, 773),
    "Effect_5": ("0.0161627", "0.00684205", 1412, 773),
    "Effect_6": ("0.0133861", "0.00625129", 1293, 773),
    "Effect_7": ("0.00981002", "0.00495722", 1248, 773),
    "Effect_8": ("0.0100838", "0.00430933", 1248, 773),
    "Average_Total_Effect": ("0.055063", "0.0268082", 9861, 6184),
    "Placebo_1": ("0.0303785", "0.0264052", 2335, 764),
    "Placebo_2": ("-0.0217763", "0.0253522", 957, 497),
    "Placebo_3": ("-0.0137113", "0.0263437", 511, 358),
}

# The same call run with py_did_multiplegt_dyn 0.1.9 (the reference's Python port, which prints 10
# decimals; it reproduces every published digit above), normalized and not: estimate, SE.
# p-values as it prints them: joint nullity of the effects, of the placebos, equality of effects.
REFERENCE_10 = {
    True: {
        "Effect_1": (0.0240393038, 0.0184240506),
        "Effect_2": (0.0116702228, 0.0106713595),
        "Effect_3": (0.0143442710, 0.0082882115),
        "Effect_4": (0.0115211039, 0.0081951494),
        "Effect_5": (0.0161627031, 0.0068420491),
        "Effect_6": (0.0133860961, 0.0062512899),
        "Effect_7": (0.0098100185, 0.0049572175),
        "Effect_8": (0.0100838376, 0.0043093329),
        "Average_Total_Effect": (0.0550630255, 0.0268081905),
        "Placebo_1": (0.0303785156, 0.0264051522),
        "Placebo_2": (-0.0217762905, 0.0253522442),
        "Placebo_3": (-0.0137112734, 0.0263436989),
    },
    False: {
        "Effect_1": (0.0542672511, 0.0415911621),
        "Effect_2": (0.0525688432, 0.0480694356),
        "Effect_3": (0.0968470254, 0.0559588304),
        "Effect_4": (0.1037197437, 0.0737775482),
        "Effect_5": (0.1826824538, 0.0773337420),
        "Effect_6": (0.1822968091, 0.0851323789),
        "Effect_7": (0.1565034252, 0.0790846130),
        "Effect_8": (0.1858269952, 0.0794132556),
        "Average_Total_Effect": (0.0550630255, 0.0268081905),
        "Placebo_1": (0.0687492848, 0.0597572095),
        "Placebo_2": (-0.0783420672, 0.0912068664),
        "Placebo_3": (-0.0773652856, 0.1486432171),
    },
}
REFERENCE_P = {True: (0.096771, 0.533651, 0.073930), False: (0.096771, 0.533651, 0.153106)}


def _half_unit(printed: str) -> float:
    """Half a unit in the last printed decimal: the widest gap rounding can leave."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-decimals * (1 + 1e-9)


@pytest.fixture(scope="module")
def favara(load_validation):
    return load_validation("favara_imbs.csv")


@pytest.fixture(scope="module")
def fits(favara):
    """The reference's example call (README: no ``weight``; ``w1`` is not used), normalized and
    not."""
    return {norm: did_multiplegt_dyn(favara, **FAVARA, normalized=norm) for norm in (True, False)}


def test_favara_published_numbers(fits):
    t = fits[True].table.set_index("term")
    assert list(t.index) == list(PUBLISHED)
    for term, (est, se, n, sw) in PUBLISHED.items():
        row = t.loc[term]
        assert abs(row["estimate"] - float(est)) <= _half_unit(est), term
        assert abs(row["std_error"] - float(se)) <= _half_unit(se), term
        assert row["n"] == n and row["n_switchers"] == sw, term
        # no weight: weighted counts are the counts
        assert row["n_weighted"] == n and row["n_switchers_weighted"] == sw, term


@pytest.mark.parametrize("normalized", [True, False])
def test_favara_reference_to_ten_decimals(fits, normalized):
    res = fits[normalized]
    t = res.table.set_index("term")
    for term, (est, se) in REFERENCE_10[normalized].items():
        assert t.loc[term, "estimate"] == pytest.approx(est, abs=6e-11), term
        assert t.loc[term, "std_error"] == pytest.approx(se, abs=6e-11), term
    p = (res.p_joint_effects, res.p_joint_placebos, res.p_equal_effects)
    np.testing.assert_allclose(p, REFERENCE_P[normalized], atol=5e-7)
    pre = res.placebo_test()
    assert pre.df == 3 and pre.p_value == pytest.approx(res.p_joint_placebos, rel=1e-12)


def test_favara_normalization(fits):
    """DID^n_l = DID_l / delta^D_l, the same for SEs, placebos (with their own switchers' delta)
    and the whole covariance; the average total effect does not depend on the option."""
    n, raw = fits[True], fits[False]
    delta = n.delta_d
    assert len(delta) == 8 and (np.diff(delta) > 0).all()  # cumulated treatment changes grow
    te, tr = n.effects, raw.effects
    np.testing.assert_allclose(te.estimate * delta, tr.estimate, rtol=1e-12)
    np.testing.assert_allclose(te.std_error * delta, tr.std_error, rtol=1e-12)
    scale = np.r_[delta, n.delta_d_placebo]
    np.testing.assert_allclose(n.vcov * np.outer(scale, scale), raw.vcov, rtol=1e-10, atol=1e-18)
    ate_n, ate_r = n.average_total_effect, raw.average_total_effect
    assert ate_n["estimate"] == ate_r["estimate"] and ate_n["std_error"] == ate_r["std_error"]
    np.testing.assert_allclose(np.sqrt(np.diag(n.vcov))[:8], te.std_error, rtol=1e-12)


def test_favara_clustering_and_weights(favara):
    """Clustering by the group is the default; a coarser cluster changes the SEs, not the point
    estimates; scaling the weights changes nothing but the weighted counts."""
    base = dict(FAVARA, effects=3, placebo=1, effects_equal=False, same_switchers=False)
    by_state = did_multiplegt_dyn(favara, **base)
    default = did_multiplegt_dyn(favara, **dict(base, cluster=None))
    by_county = did_multiplegt_dyn(favara, **dict(base, cluster="county"))
    pd.testing.assert_frame_equal(default.table, by_county.table)
    np.testing.assert_allclose(by_state.table.estimate, default.table.estimate, rtol=1e-14)
    assert not np.allclose(by_state.table.std_error, default.table.std_error)
    assert by_state.n_clusters == favara["state_n"].nunique()
    assert default.n_clusters == default.n_groups == 1045  # 3 counties never in a usable cell

    w = favara.assign(w=2.5)
    weighted = did_multiplegt_dyn(w, **dict(base, weight="w"))
    cols = ["estimate", "std_error", "n", "n_switchers"]
    pd.testing.assert_frame_equal(weighted.table[cols], by_state.table[cols])
    np.testing.assert_allclose(weighted.table.n_weighted, 2.5 * by_state.table.n, rtol=1e-14)


def test_disaggregated_data_collapse_to_group_periods(favara):
    """Data finer than group x period are collapsed to cell means weighted by the row count."""
    base = dict(FAVARA, effects=3, placebo=1, effects_equal=False)
    cell = did_multiplegt_dyn(favara, **base)
    twice = did_multiplegt_dyn(pd.concat([favara, favara]), **base)
    cols = ["estimate", "std_error", "n", "n_switchers"]
    pd.testing.assert_frame_equal(twice.table[cols], cell.table[cols], rtol=1e-12)
    np.testing.assert_allclose(twice.table.n_weighted, 2 * cell.table.n_weighted)


# ------------------------------------------------------------------- binary staggered adoption
def _staggered(seed=0, n=240, periods=8, missing_cohorts=()):
    """Balanced panel, cohorts 3..7 and never treated, effects heterogeneous by cohort and
    growing with exposure, cohort-specific pre-trends zero."""
    rng = np.random.default_rng(seed)
    cohorts = np.array([0, 3, 4, 5, 6, 7])
    g = rng.choice(cohorts, n, p=[0.3, 0.14, 0.14, 0.14, 0.14, 0.14])
    t = np.arange(1, periods + 1)
    treated = (g[:, None] > 0) & (t[None, :] >= g[:, None])
    exposure = np.where(treated, t[None, :] - g[:, None] + 1, 0)
    effect = treated * (0.5 + 0.1 * g[:, None]) * np.sqrt(exposure)
    y = (
        rng.normal(size=(n, 1))
        + 0.2 * t[None, :]
        + 0.05 * g[:, None] * t[None, :] / periods  # trends differ only by a cohort constant
        + effect
        + rng.normal(scale=0.3, size=(n, periods))
    )
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "year": np.tile(2000 + t, n),
            "y": y.ravel(),
            "d": treated.ravel().astype(float),
            "cohort": np.repeat(np.where(g > 0, 2000 + g, 0), periods),
        }
    )


def _naive(df, lag: int, placebo: bool) -> float:
    """The estimator's definition, cohort by cohort, in a balanced binary staggered panel:
    switchers' long difference minus that of the groups not treated yet at F_g - 1 + l, averaged
    over switchers (placebo: ``Y_{F_g-1-l} - Y_{F_g-1}`` for the same switchers and controls)."""
    wide = df.pivot(index="id", columns="year", values="y")
    g = df.groupby("id")["cohort"].first().reindex(wide.index).to_numpy()
    years = wide.columns.to_numpy()
    num = den = 0.0
    for c in np.unique(g[g > 0]):
        ref, end = c - 1, c - 1 + lag
        lo = c - 1 - lag if placebo else end
        if end > years.max() or lo < years.min():
            continue
        ctrl = (g == 0) | (g > end)
        diff = wide[lo] - wide[ref] if placebo else wide[end] - wide[ref]
        n_c = (g == c).sum()
        num += n_c * (diff[g == c].mean() - diff[ctrl].mean())
        den += n_c
    return num / den


@pytest.fixture(scope="module")
def staggered():
    df = _staggered()
    res = did_multiplegt_dyn(df, "y", "id", "year", "d", effects=5, placebo=3)
    return df, res


def test_binary_staggered_equals_cs_not_yet_treated(staggered):
    """With a binary absorbing treatment, effect l is Callaway & Sant'Anna's dynamic ATT at event
    time l - 1 with not-yet-treated controls (cohorts weighted by size)."""
    df, res = staggered
    cs = att_gt(df, "y", "year", "id", "cohort", control_group="notyettreated", progress=False)
    dyn = cs.aggregate("dynamic")
    e = np.asarray(dyn.egt)
    att_e = np.asarray(dyn.att_egt)
    for _, row in res.effects.iterrows():
        assert row["estimate"] == pytest.approx(att_e[e == row["horizon"] - 1][0], abs=1e-12)


def test_binary_staggered_definitions(staggered):
    """Effects and placebos equal their cohort-by-cohort definition; the first effect is DID_M
    (de Chaisemartin & D'Haultfoeuille 2020), i.e. the WAS of ``did_continuous`` on a binary dose;
    the normalized effect divides by the exposure l, and the average total effect averages the
    effects weighted by their switchers."""
    df, res = staggered
    for _, row in res.effects.iterrows():
        assert row["estimate"] == pytest.approx(_naive(df, int(row["horizon"]), False), abs=1e-12)
    for _, row in res.placebos.iterrows():
        assert row["estimate"] == pytest.approx(_naive(df, -int(row["horizon"]), True), abs=1e-12)

    was = did_continuous(df, "y", "d", "year", "id", n_boot=2, progress=False)
    assert res.effects.estimate[0] == pytest.approx(was.was, abs=1e-12)

    eff = res.effects
    ate = (eff.estimate * eff.n_switchers).sum() / eff.n_switchers.sum()
    assert res.att == pytest.approx(ate, abs=1e-12)
    norm = did_multiplegt_dyn(df, "y", "id", "year", "d", effects=5, placebo=3, normalized=True)
    np.testing.assert_allclose(norm.delta_d, np.arange(1, 6), rtol=1e-12)
    np.testing.assert_allclose(norm.effects.estimate * np.arange(1, 6), eff.estimate, rtol=1e-12)


def test_same_switchers_fixes_the_composition(staggered):
    """``same_switchers``: the switchers with all effects; ``same_switchers_pl``: the placebos use
    only the switchers with all effects and all placebos (the effects are not restricted further,
    as in the R and Stata code)."""
    df, res = staggered
    assert res.effects.n_switchers.is_monotonic_decreasing and res.effects.n_switchers.nunique() > 1
    same = did_multiplegt_dyn(df, "y", "id", "year", "d", effects=5, placebo=3, same_switchers=True)
    assert same.effects.n_switchers.nunique() == 1
    assert same.effects.n_switchers[0] == res.effects.n_switchers.iloc[-1]
    kw = {"effects": 3, "placebo": 2, "same_switchers": True}
    eff_only = did_multiplegt_dyn(df, "y", "id", "year", "d", **kw)
    both = did_multiplegt_dyn(df, "y", "id", "year", "d", **kw, same_switchers_pl=True)
    pd.testing.assert_frame_equal(both.effects, eff_only.effects)
    g = df.groupby("id")["cohort"].first() - 2000
    assert (eff_only.effects.n_switchers == g.between(3, 6).sum()).all()  # F_g + 2 <= 8
    assert (both.placebos.n_switchers == g.between(4, 6).sum()).all()  # and F_g - 3 >= 1
    assert not (eff_only.placebos.n_switchers == both.placebos.n_switchers).all()


def test_result_api(staggered, tmp_path):
    _, res = staggered
    td = res.tidy()
    assert list(td.columns) == TIDY_COLUMNS
    assert list(td.term) == [
        *(f"Effect_{k}" for k in range(1, 6)),
        "Average_Total_Effect",
        *(f"Placebo_{k}" for k in range(1, 4)),
    ]
    es = res.event_study()
    assert list(es.columns) == EVENT_STUDY_COLUMNS
    assert list(es.event_time) == [-4, -3, -2, 0, 1, 2, 3, 4]
    assert res.vcov.shape == (8, 8)
    assert "Average_Total_Effect" in res.summary()
    assert res.p_joint_effects is not None and res.p_equal_effects is None
    fig = res.plot()
    fig.savefig(tmp_path / "dcdh.png")
    assert (tmp_path / "dcdh.png").stat().st_size > 1000


def test_errors(staggered):
    df, _ = staggered
    with pytest.raises(ValueError, match="same_switchers_pl"):
        did_multiplegt_dyn(df, "y", "id", "year", "d", same_switchers_pl=True)
    with pytest.raises(ValueError, match="Design Restriction 1"):  # everyone switches at once
        did_multiplegt_dyn(df.assign(d=(df.year >= 2004).astype(float)), "y", "id", "year", "d")
    with pytest.raises(ValueError, match="nested"):
        did_multiplegt_dyn(df, "y", "id", "year", "d", cluster="year")
    with pytest.warns(UserWarning, match="at most"):
        did_multiplegt_dyn(df, "y", "id", "year", "d", effects=20)
