"""Concurrent (overlapping) policies: a declared, user-extendable table and two robustness checks.

A city that became a cross-border e-commerce pilot zone may, in the same years, have received other
place-based policies that also raise exports -- most prominently a pilot free trade zone (自由贸易
试验区). If those policies are correlated with pilot timing, the pilot coefficient partly picks up
their effect. Two standard checks against such overlapping place-based programmes (Neumark &
Simpson 2015, "Place-based policies", Handbook of Regional and Urban Economics 5, ch. 18, discuss
why overlapping programmes confound zone evaluations):

(a) add each concurrent policy to the untreated-outcome model of the headline BJS imputation ATT
    by the studies' one rule for concurrent binary treatments
    (:func:`analysis.studies.rules.concurrent_columns`: one dummy per cohort x event-time cell of the
    policy, coarsened to event-time cells or one absorbing dummy ``1{t >= first year}`` when a cell
    met by the pilot zones is not learnt from untreated-by-pilot city-years in MIN_CELL_CLUSTERS of
    the study's clusters; :func:`with_policy_dummies` adds the years);
(b) drop every city treated by the concurrent policy and re-estimate the headline ATT
    (:func:`drop_policy_cities`).

Both re-estimate the study's headline ATT (:func:`analysis.studies.binary.headline_att`), with its
inference (the study's clustering level, :func:`analysis.studies.rules.inference_rule`, t(G-1)), so
each row is the headline under one more assumption about the other policy.

Roster file format (one row per designated area; the committed
``data/reference/pilot_free_trade_zones.csv`` is the example)
-------------------------------------------------------------------------------------------------
A UTF-8 CSV (a BOM is fine) with exactly these columns:

``prefecture``
    Name of the prefecture-level city that contains the area, as in the city master
    (``data/interim/cities.csv``): the short name (``杭州``) or the full name (``杭州市``,
    ``喀什地区``). Unknown names are an error naming the file, line and column.
``zone``
    Free text: the area's name (e.g. ``中国(浙江)自由贸易试验区 杭州片区``); not used in estimation.
``approved``
    Date of approval/designation, ``YYYY-MM-DD``, between 1990-01-01 and 2030-12-31.
``verification``
    ``2nd-source`` (checked against a second public source) or ``single-source``.

A city listed several times (several areas, expansions) is treated from its earliest date. The
treatment year follows ``year_rule`` (``approval``: calendar year of ``approved``; ``following``: the
year after); the robustness checklist passes params.yaml's ``treatment.year_rule``, so the rosters are
coded as the pilot zones are. Extra rosters go in ``data/raw/`` and are declared in
params.yaml as a mapping from policy name to file, e.g.
``concurrent_policies: {"broadband china": data/raw/broadband_china.csv}`` for the 宽带中国
demonstration cities (batches 2014, 2015, 2016). The pilot free trade zones
(policy name ``"pilot free trade zone"``) are always included unless ``include_default=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pandera.pandas as pa

from analysis import config as paths
from analysis.config import TreatmentConfig
from analysis.data.cities import match_city_names
from analysis.data.reference import VERIFICATION, treatment_year
from analysis.errors import InputError, validate_frame

__all__ = [
    "DEFAULT_POLICY",
    "POLICY_SCHEMA",
    "ConcurrentResult",
    "concurrent_policy_check",
    "drop_policy_cities",
    "load_concurrent_policies",
    "load_policy_file",
    "policy_columns",
    "policy_years",
    "with_policy_dummies",
]

DEFAULT_POLICY = "pilot free trade zone"
DEFAULT_FILE = "pilot_free_trade_zones.csv"

POLICY_SCHEMA = pa.DataFrameSchema(
    {
        "prefecture": pa.Column(str, pa.Check.str_length(min_value=1)),
        "zone": pa.Column(str),
        "approved": pa.Column(
            "datetime64[ns]",
            pa.Check.in_range(pd.Timestamp("1990-01-01"), pd.Timestamp("2030-12-31")),
        ),
        "verification": pa.Column(str, pa.Check.isin(VERIFICATION)),
    },
    strict=True,
    coerce=True,
)


def policy_slug(policy: str) -> str:
    """ASCII column stem for a policy name: ``"pilot free trade zone"`` -> ``"pilot_free_trade_zone"``."""
    slug = re.sub(r"[^0-9a-z]+", "_", policy.lower()).strip("_")
    if not slug:
        raise ValueError(
            f"policy name {policy!r} needs some ASCII letters or digits (used as a column name)"
        )
    return slug


def policy_columns(policy: str) -> tuple[str, str]:
    """``(<slug>_year, <slug>_post)``: first-year and post-dummy column names for a policy."""
    slug = policy_slug(policy)
    return f"{slug}_year", f"{slug}_post"


def load_policy_file(
    path: str | Path, policy: str, master: pd.DataFrame, year_rule: str = TreatmentConfig.year_rule
) -> pd.DataFrame:
    """Read and validate one roster; one row per (policy, city) with its first treatment year.

    Returns columns policy, city_code, prefecture, first_approved, policy_year.
    Schema failures and unknown prefectures raise :class:`analysis.errors.InputError`
    (``error: FILE:LINE:COLUMN: ...``).
    """
    path = Path(path)
    frame = pd.read_csv(
        path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""]
    )
    shown = paths.display_path(path)  # errors name the file as params.yaml does
    frame = validate_frame(frame, POLICY_SCHEMA, shown)
    codes = match_city_names(frame["prefecture"], master)
    if codes.isna().any():
        i = int(codes.isna().to_numpy().nonzero()[0][0])
        raise InputError(
            shown,
            f"unknown prefecture {frame['prefecture'].iloc[i]!r}",
            row=i + 2,
            column="prefecture",
            hint="use a name from the city master (data/interim/cities.csv)",
        )
    frame = frame.assign(
        city_code=codes.to_numpy(), policy_year=treatment_year(frame["approved"], year_rule)
    )
    first = frame.sort_values(["approved", "prefecture"]).groupby("city_code", sort=True).first()
    return (
        first.reset_index()
        .assign(policy=policy)
        .rename(columns={"approved": "first_approved"})[
            ["policy", "city_code", "prefecture", "first_approved", "policy_year"]
        ]
    )


def load_concurrent_policies(
    files: dict[str, str | Path] | None = None,
    master: pd.DataFrame | None = None,
    year_rule: str = TreatmentConfig.year_rule,
    include_default: bool = True,
) -> pd.DataFrame:
    """The declared table of concurrent policies: long, one row per (policy, city).

    ``files`` maps policy names to roster files in the format of this module's docstring; relative
    paths are taken from the project root (so ``data/raw/broadband_china.csv`` works from params.yaml).
    ``include_default`` adds ``data/reference/pilot_free_trade_zones.csv`` as ``"pilot free trade zone"``.
    """
    if master is None:
        from analysis.data.build import read_cities

        master = read_cities()
    rosters = {DEFAULT_POLICY: paths.REFERENCE / DEFAULT_FILE} if include_default else {}
    for policy, file in (files or {}).items():
        file = Path(file)
        rosters[policy] = file if file.is_absolute() else paths.ROOT / file
    if not rosters:
        raise ValueError("no concurrent-policy rosters declared")
    slugs = [policy_slug(p) for p in rosters]
    if len(set(slugs)) < len(slugs):
        raise ValueError(f"policy names must differ in their ASCII column stems, got {slugs}")
    tables = [load_policy_file(f, p, master, year_rule) for p, f in rosters.items()]
    return pd.concat(tables, ignore_index=True)


def policy_years(table: pd.DataFrame, city_codes: pd.Index | None = None) -> pd.DataFrame:
    """Wide per-city first policy years: index city_code, one ``<slug>_year`` column per policy (0 = never)."""
    wide = table.pivot_table(
        index="city_code", columns="policy", values="policy_year", aggfunc="min", sort=False
    )
    wide = wide.rename(columns=lambda p: policy_columns(p)[0])
    if city_codes is not None:
        wide = wide.reindex(pd.Index(city_codes, name="city_code"))
    return wide.fillna(0).astype(int).rename_axis(columns=None)


def with_policy_dummies(
    panel: pd.DataFrame, years: pd.DataFrame, idname: str = "city_code", tname: str = "year"
) -> pd.DataFrame:
    """Panel plus ``<slug>_year`` (first year, 0 = never) and ``<slug>_post`` (absorbing 0/1) per policy."""
    out = panel.drop(columns=[c for c in years.columns if c in panel.columns])
    out = out.merge(years, left_on=idname, right_index=True, how="left")
    for col in years.columns:
        first = out[col].fillna(0).astype(int)
        out[col] = first
        out[col.removesuffix("_year") + "_post"] = ((first > 0) & (out[tname] >= first)).astype(int)
    return out


def _year_columns(years: pd.DataFrame, policies: list[str] | None) -> list[str]:
    if policies is None:
        return list(years.columns)
    cols = [policy_columns(p)[0] for p in policies]
    missing = [c for c in cols if c not in years.columns]
    if missing:
        raise KeyError(f"policies not in the table: {missing}")
    return cols


def drop_policy_cities(
    panel: pd.DataFrame,
    years: pd.DataFrame,
    policies: list[str] | None = None,
    idname: str = "city_code",
) -> pd.DataFrame:
    """The panel without the cities treated by any of ``policies`` (default: all) at any time."""
    cols = _year_columns(years, policies)
    treated = years.index[(years[cols] > 0).any(axis=1)]
    return panel[~panel[idname].isin(treated)]


@dataclass
class ConcurrentResult:
    """Pilot estimates with concurrent policies controlled for or their cities dropped."""

    # specification, estimator, term, estimate, std_error, conf_low, conf_high, p_value, cluster,
    # n_clusters, n_obs, n_cities, n_treated_cities, skipped (reason or None)
    table: pd.DataFrame
    policies: list[str]
    overlap: pd.DataFrame  # per policy: cities treated, of which also treated by the main policy

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        cols = [
            "specification",
            "estimator",
            "estimate",
            "std_error",
            "conf_low",
            "conf_high",
            "n_cities",
        ]
        return (
            "Concurrent policies: pilot effect controlling for / dropping overlapping policies\n"
            + self.overlap.to_string(index=False)
            + "\n"
            + self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
        )

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax=None):
        from analysis.figures.robustness import coefficient_axes

        return coefficient_axes(
            self.table.assign(
                label=self.table["specification"] + " (" + self.table["estimator"] + ")"
            ),
            ax=ax,
        )


# headline_att consults the design check of the full panel only to rule the estimator out and to
# take the estimation sample; the checklist has done both already (its panel is the complete-case
# sample), so the re-estimations on modified panels pass this stand-in (no further rows dropped
# but those without the outcome)
_CHECKED = SimpleNamespace(treatments={}, sample_columns=[])


def concurrent_policy_check(
    panel: pd.DataFrame,
    years: pd.DataFrame,
    dname: str = "pilot",
    gname: str = "pilot_year",
    controls: list[str] | None = None,
    idname: str = "city_code",
    tname: str = "year",
    alpha: float = 0.05,
) -> ConcurrentResult:
    """Re-estimate the headline ATT of ``dname`` (:func:`analysis.studies.binary.headline_att`:
    BJS imputation, ``controls`` in the untreated-outcome model, SEs at the study's clustering
    level, t(G-1) intervals) with each concurrent policy (and all jointly)
    (a) as a control: its cells (:func:`analysis.studies.rules.concurrent_columns`, each learnt
    from MIN_CELL_CLUSTERS of the study's clusters, as in the headline's covariates) join the
    covariates of the untreated-outcome model, so its effects are learnt from the policy's cities
    before they become pilots and from never-pilot cities, and are removed from the imputed
    counterfactuals;
    (b) with its cities dropped. Plus the baseline (the headline itself).

    ``years`` comes from :func:`policy_years` (index city_code). A re-estimation that cannot run
    on its panel keeps its row with NaN numbers and the reason in ``skipped``.
    """
    from analysis.studies.binary import headline_att
    from analysis.studies.rules import concurrent_columns, inference_rule

    controls = list(controls or [])
    policies = [c.removesuffix("_year").replace("_", " ") for c in years.columns]
    groups: list[tuple[str, list[str]]] = [(p, [c]) for p, c in zip(policies, years.columns)]
    if len(policies) > 1:
        groups.append(("all policies", list(years.columns)))
    rows = []

    def add(spec: str, data: pd.DataFrame, covariates: list[str]) -> None:
        res = headline_att(data, dname, gname, covariates, design=_CHECKED, alpha=alpha)
        why = res.get("skipped")
        rows.append(
            {
                "specification": spec,
                "estimator": "BJS",
                "term": dname,
                **{k: float(res.get(k, float("nan"))) for k in _NUMBERS},
                "cluster": res.get("cluster"),
                "n_clusters": res.get("n_clusters"),
                "n_obs": res.get("nobs", len(data)),
                "n_cities": data[idname].nunique(),
                "n_treated_cities": data.loc[data[gname] > 0, idname].nunique(),
                "skipped": why,
            }
        )

    add("baseline", panel, controls)
    for name, cols in groups:
        wide = years[cols]
        data = with_policy_dummies(panel, wide, idname, tname)
        cells, cluster = [], inference_rule(data).cluster  # rule 2's count: the study's clusters
        for c in cols:
            frame, conc = concurrent_columns(data, gname, c, c.removesuffix("_year"), None, cluster)
            data = pd.concat(
                [data.drop(columns=list(frame.columns), errors="ignore"), frame], axis=1
            )
            cells += conc.columns
        add(f"control: {name}", data, [*controls, *cells])
        add(f"drop: {name}", drop_policy_cities(panel, wide, None, idname), controls)
    table = pd.DataFrame(rows)
    main = panel.groupby(idname)[gname].first()
    overlap = pd.DataFrame(
        [
            {
                "policy": p,
                "cities": int((years[c] > 0).sum()),
                "also_main_treated": int(
                    ((years[c] > 0) & (main.reindex(years.index).fillna(0) > 0)).sum()
                ),
                "first_year": int(years.loc[years[c] > 0, c].min()) if (years[c] > 0).any() else 0,
            }
            for p, c in zip(policies, years.columns)
        ]
    )
    return ConcurrentResult(table=table, policies=policies, overlap=overlap)


_NUMBERS = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
