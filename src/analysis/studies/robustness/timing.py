"""The headline under the other treatment-year codings of the pilot-zone roster, reported apart
from the specification curve with the truth of its cities (issue 18).

A city counts as designated from the year of its State Council reply when the reply came in the
first half of the year, else from the next year (params.yaml ``treatment.year_rule: midyear``).
The ``approval`` (calendar year of the reply) and ``following`` (the year after) codings are
what other papers use, but on this roster they misclassify: batches 4 and 7 were approved on 15
December 2019 and 14 November 2022, so the approval year credits them with a year of exposure they
could not have had, and the following year delays batches approved early in the year. An estimate
under a misclassified timing is not an estimate of the ATT (its "treated" city-years include
untreated ones), so it is not a point of the specification curve
(:mod:`analysis.studies.robustness.spec_curve`); it is shown here beside the truth of the same
cities, which the misclassification bias is the gap to.

Each coding gets the headline's estimator, covariates (rebuilt on the recoded dates: the untreated
paths and the concurrent cells move with them) and inference, through
:func:`analysis.studies.binary.headline_att`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.binary import headline_att, is_skipped
from analysis.studies.rules import UNIT, study_data, truth_for

TIMING_RULES = ("approval", "following", "midyear")
AS_CODED = "as_coded"
COLUMNS = ["coding", "headline", "estimate", "std_error", "conf_low", "conf_high", "p_value",
           "n_clusters", "n_cities_moved", "batches_moved", "truth", "gap_to_truth",
           "skipped"]  # fmt: skip


def recode_timing(panel: pd.DataFrame, rule: str, batchname: str = "pilot_batch") -> np.ndarray:
    """Each row's pilot year recoded by ``rule`` from its batch and the batch's approval date in
    the committed pilot-zone roster (0 = never treated). KeyError when a batch is not in the
    roster."""
    from analysis.data.reference import load_pilot_zones, treatment_year

    zones = load_pilot_zones()
    years = treatment_year(zones.groupby("batch")["approved"].min(), rule)
    batch = panel[batchname].to_numpy()
    treated = batch > 0
    unknown = set(batch[treated]) - set(years.index)
    if unknown:
        raise KeyError(f"batches {sorted(unknown)} are not in the pilot-zone roster")
    return np.where(treated, pd.Series(batch).map(years).fillna(0).to_numpy(), 0).astype(int)


def headline_coding(panel: pd.DataFrame, gname: str = "pilot_year",
                    batchname: str = "pilot_batch") -> tuple[str, dict, str | None]:  # fmt: skip
    """(the rule that reproduces the panel's ``gname``, {rule: recoded years}, why the codings
    cannot be compared or None). A panel without a batch column, with a batch the roster does not
    know, or coded by no rule (a user's own dates) has nothing to compare."""
    if batchname not in panel:
        return AS_CODED, {}, f"no {batchname} column to recode the treatment year from"
    try:
        recoded = {r: recode_timing(panel, r, batchname) for r in TIMING_RULES}
    except KeyError as err:
        return AS_CODED, {}, str(err.args[0])
    coded = panel[gname].to_numpy().astype(int)
    same = [r for r, g in recoded.items() if np.array_equal(g, coded)]
    if not same:
        return AS_CODED, recoded, f"the panel's {gname} matches no rule of the roster dates"
    return same[0], recoded, None


def timing_codings(
    sample: pd.DataFrame,
    design,
    treatment: str = "pilot",
    control_rule: dict | None = None,
    rule=None,
    truth: dict | None = None,
    gname: str = "pilot_year",
    dname: str = "pilot",
    batchname: str = "pilot_batch",
    coding: tuple[str, dict, str | None] | None = None,
) -> dict:
    """The headline (:func:`headline_att`) under each coding of :data:`TIMING_RULES` on the
    analysis ``sample``, the panel's own coding first: ``{"headline_coding", "table"}`` (columns
    :data:`COLUMNS`; ``truth``: the true total ATT over the coding's treated cities, None on real
    data), or ``{"skipped": reason}``. ``coding``: :func:`headline_coding` of ``sample`` when the
    caller already has it (None: computed here)."""
    head, recoded, why = coding or headline_coding(sample, gname, batchname)
    if why:
        return {"skipped": why}
    coded = sample[gname].to_numpy().astype(int)
    rows = []
    for name in dict.fromkeys([head, *TIMING_RULES]):
        g = recoded[name]
        years = sample["year"].to_numpy()
        data = sample.assign(**{gname: g, dname: ((g > 0) & (years >= g)).astype(int)})
        sd = study_data(data, design, treatment, control_rule)
        est = headline_att(sd.panel, treatment, gname, sd.covariates, design, rule=rule)
        moved = sample.loc[g != coded]
        block = truth_for(truth, treatment, sd.covariates, sd.treated_cities, exclude=sd.censored)
        truth_att = None if block is None else block["att_overall"]
        row = {
            "coding": name,
            "headline": name == head,
            "n_cities_moved": int(moved[UNIT].nunique()),
            "batches_moved": ",".join(str(int(b)) for b in sorted(moved[batchname].unique())),
            "truth": truth_att,
            "skipped": est.get("skipped") if is_skipped(est) else None,
        }
        if not is_skipped(est):
            row |= {k: est[k] for k in ("estimate", "std_error", "conf_low", "conf_high",
                                        "p_value", "n_clusters")}  # fmt: skip
            row["gap_to_truth"] = None if truth_att is None else est["estimate"] - truth_att
        rows.append(row)
    return {"headline_coding": head, "table": pd.DataFrame(rows, columns=COLUMNS)}
