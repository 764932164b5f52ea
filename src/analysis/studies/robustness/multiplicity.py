"""The three treatments' headline tests as one family: stepdown adjusted p-values.

The study tests three hypotheses of "no effect" on one panel: the pilot zones' headline (BJS
imputation ATT, total effect: :func:`analysis.studies.binary.headline_att`), the rail links'
headline (the same estimator and rules for ``rail``, on the China-Europe Railway Express's own
link: :func:`analysis.studies.rails.link_panel`) and the network-coverage headline (the TWFE
elasticity of exports with respect to broadband users per 100 people,
:func:`analysis.studies.coverage.coverage_study`, ``twfe``; coverage is a continuous dose, so its
headline coefficient is the statistic). Reading three p-values as if each were the only test
inflates the chance that at least one "effect" is a false positive.

Each headline is re-estimated here with its per-cluster contributions at the study's clustering
level (:func:`analysis.studies.rules.inference_rule`: province clusters, t(G-1)), the BJS ATTs
from :func:`analysis.did.subgroup.imputation_fit` (its overall ATT and, with the headline's
variance cells, its variance are the imputation module's, hence the headline's), the elasticity from the FE kernel's scores
(:func:`analysis.did.fe.fit_within` ``keep_scores=True``). The statistics co-move (the same
provinces' shocks enter all three; most CRE cities are pilot cities), so the adjustment is the
stepdown of :mod:`analysis.did.stepdown` over ONE multiplier bootstrap whose province weights are
shared by the three statistics. Holm and Bonferroni are reported beside it.

The coverage study itself clusters as params.yaml ``network_coverage.cluster`` says; here its
coefficient is tested at the study's level (the one inference rule), so its unadjusted p-value
can differ from the network-coverage notebook's: both are in the table.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.data.design import MIN_CONTROL_SHARE, analysis_sample
from analysis.did.fe import fit_within
from analysis.did.stepdown import Hypothesis, stepdown_adjust, within_cluster_scores
from analysis.did.subgroup import imputation_fit
from analysis.studies.binary import NUMERICAL_ERRORS, study_design, treatment_covariates
from analysis.studies.rails import link_study_data
from analysis.studies.rules import inference_rule, study_data, variance_cells

__all__ = ["TREATMENTS", "treatment_family"]

# hypothesis -> (where its headline lives in the results, what the statistic is)
TREATMENTS = {
    "pilot": ("pilot_zones.json: headline", "BJS imputation ATT (total effect)"),
    "rail": ("rail_links.json: headline", "BJS imputation ATT (total effect)"),
    "log_broadband": (
        "network_coverage.json: twfe",
        "TWFE elasticity of exports w.r.t. broadband users per 100 people",
    ),
}
Y, UNIT, TIME = "log_exports", "city_code", "year"
RAIL_LINK = "cre"  # the rail headline: the China-Europe Railway Express (studies/rails.py)


def _bjs(sd, cluster):
    treatment = sd.treatment
    fit = imputation_fit(sd.panel, Y, TIME, UNIT, sd.cohort, sd.covariates, cluster)
    n1 = len(fit.treated)
    # the headline's variance cells (analysis.studies.rules.variance_cells)
    cells = variance_cells(sd.panel, sd.cohort, cluster)
    tau_bar = (
        fit.tau_bar()
        if cells["leaveout"]
        else fit.tau_bar((tuple(cells["avg_effects_by"]),), leaveout=False)
    )
    lin = fit.linear(np.full((n1, 1), 1.0 / n1), tau_bar)
    scores = pd.DataFrame(lin.scores, index=fit.cluster_labels.astype(str), columns=["ATT"])
    return Hypothesis(treatment, lin.estimates, scores, lin.vcov, df_resid=fit.n_clusters - 1)


def _coverage(sample, design, cluster):
    others = [t for t in ("pilot", "rail") if t in treatment_covariates(design, None)]
    xs = ["log_broadband", *others, *design.controls_used]
    fit = fit_within(sample, Y, xs, UNIT, TIME, cluster=cluster, keep_scores=True)
    scores, vcov = within_cluster_scores(fit, sample, cluster, ["log_broadband"])
    est = fit.params[fit.names.index("log_broadband")]
    return Hypothesis("log_broadband", [est], scores, vcov, df_resid=fit.n_clusters - 1)


def treatment_family(
    panel: pd.DataFrame,
    *,
    draws: int = 9999,
    seed: int | None = 20240601,
    weights: str = "normal",
    control_rule: dict | None = None,
    min_control_share: float = MIN_CONTROL_SHARE,
) -> dict:
    """Stepdown adjusted p-values of the three treatments' headline tests (module docstring).
    A treatment the design check rules out on this panel (or whose estimation fails numerically)
    leaves the family with the reason in ``left_out``; ``{"skipped": reason}`` with fewer than
    two hypotheses."""
    design = study_design(panel, share=min_control_share)
    sample = analysis_sample(panel, design)
    rule = inference_rule(sample)
    hyps, left_out = [], {}
    for name in TREATMENTS:
        why = None
        if name == "log_broadband":
            why = design.coverage
        elif name not in design.treatments:
            why = f"no {name} column"
        else:
            t = design.treatments[name]
            why = t.estimators.get("bjs") or t.estimators.get("twfe")
        if why:
            left_out[name] = why
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # cells without support: the headline's warning
                if name == "log_broadband":
                    hyps.append(_coverage(sample, design, rule.cluster))
                elif name == "rail":  # the rail notebook's study: the CRE on its own link
                    ld = link_study_data(panel, RAIL_LINK, min_control_share, control_rule)
                    hyps.append(_bjs(ld.study, rule.cluster))
                else:
                    sd = study_data(sample, design, name, control_rule)
                    hyps.append(_bjs(sd, rule.cluster))
        except NUMERICAL_ERRORS as exc:
            left_out[name] = f"estimation failed on this panel: {type(exc).__name__}: {exc}"
    if len(hyps) < 2:
        return {
            "skipped": "fewer than two treatments can be tested on this panel",
            "left_out": left_out,
        }
    res = stepdown_adjust(hyps, draws=draws, seed=seed, weights=weights)
    table = res.table.assign(
        source=lambda t: t["hypothesis"].map(lambda h: TREATMENTS[h][0]),
        statistic_of=lambda t: t["hypothesis"].map(lambda h: TREATMENTS[h][1]),
        std_error=[float(np.sqrt(h.vcov[0, 0])) for h in hyps],
    )
    return {
        **res.record(),
        "table": table,
        "cluster": rule.cluster,
        "inference": rule.record(),
        "left_out": left_out,
        "family": "the three treatments' headline tests (H0: no effect), two-sided",
    }
