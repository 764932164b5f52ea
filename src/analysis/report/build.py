"""Render the report (HTML and PDF via Typst) from the results files and figures.

Every number in the text is read from output/results/*.json or output/tables/*.csv; nothing is
typed into the templates. The PDF is compiled by the ``typst`` PyPI package with the CJK font from
``mplfonts``, so Chinese renders without system fonts or LaTeX.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import jinja2
import pandas as pd

from analysis import config as paths
from analysis import results_io
from analysis.figures.style import cjk_font_path
from analysis.report.replication import render_html, replication_section

FIGURES = [
    ("overview_rollout", "overview", "Roll-out of the treatments: cumulative treated cities by year and pilot-zone cities by designation year."),
    ("overview_exports", "overview", "Distribution of exports across cities and its concentration (Lorenz curve)."),
    ("pilot_event_study", "pilot_zones", "Pilot zones: event-study estimates by TWFE, Callaway-Sant'Anna, Sun-Abraham and BJS imputation (95% CIs, clustered by city) against the true effect."),
    ("rail_event_study", "rail_links", "Rail links: event-study estimates by TWFE, Callaway-Sant'Anna, Sun-Abraham and BJS imputation (95% CIs, clustered by city) against the true effect."),
    ("coverage_dose_response", "network_coverage", "Network coverage: dose-response of log exports to broadband users per 100 people."),
    ("robustness_summary", "robustness", "Robustness of the pilot-zone effect: estimates and 95% intervals from each check against the baseline."),
    ("robustness_spec_curve", "robustness", "Specification curve: every combination of estimator, controls, sample, clustering, treatment-year coding and outcome, sorted, with the choices below."),
    ("robustness_honestdid", "robustness", "HonestDiD sensitivity: robust confidence sets for the average post-designation effect as parallel trends may be violated."),
    ("simulation_bacon", "simulation", "Goodman-Bacon decomposition of the TWFE pilot-zone coefficient: every 2x2 comparison's estimate against its weight."),
    ("simulation_draws", "simulation", "Repeated simulations: TWFE and imputation estimates minus the true ATT, under a constant and under a growing, batch-specific effect."),
]
CAPTIONS_ZH = {
    "overview_rollout": "处理的推进：各年累计处理城市数，以及按设立年份标注的综试区城市。",
    "overview_exports": "城市出口额分布及其集中度（洛伦兹曲线）。",
    "pilot_event_study": "综试区：TWFE、Callaway-Sant'Anna、Sun-Abraham 与 BJS 插补的事件研究估计（95% 置信区间，按城市聚类）及真实效应。",
    "rail_event_study": "铁路联通：TWFE、Callaway-Sant'Anna、Sun-Abraham 与 BJS 插补的事件研究估计（95% 置信区间，按城市聚类）及真实效应。",
    "coverage_dose_response": "网络覆盖：出口额对数对每百人宽带用户数的剂量反应。",
    "robustness_summary": "综试区效应的稳健性：各项检验的估计值与 95% 区间，对照基准估计。",
    "robustness_spec_curve": "设定曲线：估计量、控制变量、样本、聚类层级、处理年份编码与结果变量的全部组合（按估计值排序），下方为各设定的选择。",
    "robustness_honestdid": "HonestDiD 敏感性分析：平行趋势可能不成立时，设立后平均效应的稳健置信区间。",
    "simulation_bacon": "综试区 TWFE 系数的 Goodman-Bacon 分解：各 2x2 比较的估计值与权重。",
    "simulation_draws": "重复模拟：恒定效应与随时间增长、因批次而异的效应下，TWFE 与插补估计量减去真实 ATT 的分布。",
}
ROW_LABELS_ZH = {
    "pilot": "跨境电商综试区", "rail": "铁路联通", "log_broadband": "每百人宽带用户数对数",
    "log_gdp_pc": "人均 GDP 对数", "log_population": "人口对数", "log_fdi": "外商直接投资对数",
    "industry_share_pct": "第二产业占比（%）",
}
SPECS_ZH = {"no controls": "无控制变量", "controls": "含控制变量"}
FOOTER_ZH = {"Observations": "观测数", "Clusters (city)": "聚类数（城市）", "Within R²": "组内 R²"}
ROW_LABELS = {
    "pilot": "CBEC pilot zone",
    "rail": "Rail link",
    "log_broadband": "log broadband per 100",
    "log_gdp_pc": "log GDP per capita",
    "log_population": "log population",
    "log_fdi": "log FDI",
    "industry_share_pct": "Industry share (%)",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else "n/a"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "uncommitted"


def _stars(p: float) -> str:
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def regression_table(table: pd.DataFrame, lang: str = "en") -> dict:
    """Columns = specifications; cells 'estimate stars' over '(se)'; footer N, clusters, within R2."""
    specs = list(dict.fromkeys(table["specification"]))
    labels = ROW_LABELS_ZH if lang == "zh" else ROW_LABELS
    rows = []
    for term, lab in labels.items():
        cells, ses = [], []
        for spec in specs:
            hit = table[(table["specification"] == spec) & (table["term"] == term)]
            if hit.empty:
                cells.append("")
                ses.append("")
            else:
                r = hit.iloc[0]
                cells.append(f"{r['estimate']:.4f}{_stars(r['p_value'])}")
                ses.append(f"({r['std_error']:.4f})")
        rows.append({"label": lab, "cells": cells, "ses": ses})
    footer = []
    for key, lab, fmt in (("nobs", "Observations", "{:.0f}"), ("n_clusters", "Clusters (city)", "{:.0f}"),
                          ("r2_within", "Within R²", "{:.3f}")):
        footer.append({"label": FOOTER_ZH[lab] if lang == "zh" else lab, "cells": [fmt.format(table.loc[table["specification"] == s, key].iloc[0]) for s in specs]})
    if lang == "zh":
        specs = [SPECS_ZH.get(s, s) for s in specs]
    return {"specs": specs, "rows": rows, "footer": footer}


def collect_context(params: dict) -> dict:
    """Everything the templates print, read from the pipeline's results files."""
    res = {name: results_io.read_json(paths.RESULTS / f"{name}.json")
           for name in ("overview", "pilot_zones", "rail_links", "network_coverage", "simulation", "robustness")}
    table = pd.read_csv(paths.TABLES / "twfe_joint.csv")
    overall = {key: pd.read_csv(paths.TABLES / f"{key}_overall.csv").to_dict(orient="records")
               for key in ("pilot", "rail")}
    source = res["overview"]["data_source"]
    lang = params.get("report", {}).get("lang", "en")
    panel_hash = _sha256(paths.PROCESSED / "panel.csv")
    commit = _commit()
    nb_params = params.get("notebooks", {})
    figures = []
    for i, (stem, notebook, caption) in enumerate(FIGURES, start=1):
        p = nb_params.get(notebook, {})
        figures.append({
            "n": i, "stem": stem, "caption": CAPTIONS_ZH[stem] if lang == "zh" else caption, "notebook": notebook,
            "png": paths.FIGURES / f"{stem}.png",
            "provenance": f"notebook {notebook}.ipynb · commit {commit} · data sha256 {panel_hash} · "
                          f"params {', '.join(f'{k}={v}' for k, v in p.items()) or 'defaults'}",
        })
    return {
        "title": params["report"]["title_zh" if lang == "zh" else "title"],
        "lang": lang,
        "synthetic": source == "synthetic",
        "data_source": source,
        "ov": res["overview"],
        "pilot": res["pilot_zones"],
        "rail": res["rail_links"],
        "cov": res["network_coverage"],
        "sim": {(r["design"], r["estimator"]): r for r in res["simulation"]["summary"]},
        "sim_bacon": res["simulation"]["bacon_weights"],
        "rob": res["robustness"],
        "table": regression_table(table, lang),
        "overall": overall,
        "figures": figures,
        "commit": commit,
        "panel_hash": panel_hash,
        "sources": (paths.REFERENCE / "SOURCES.md").read_text(encoding="utf-8"),
        "replication": replication_section(paths.ROOT, params),
        "table_params": "; ".join(f"{nb}: " + ", ".join(f"{k}={v}" for k, v in nb_params.get(nb, {}).items())
                                  for nb in ("pilot_zones", "rail_links")),
    }


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["num"] = lambda v, d=3: "n/a" if v is None else f"{v:.{d}f}"
    env.filters["pct"] = lambda v, d=1: "n/a" if v is None else f"{100 * v:.{d}f}%"
    env.filters["typst_escape"] = lambda s: str(s).replace("#", "\\#").replace("$", "\\$").replace("@", "\\@").replace("<", "\\<").replace("*", "\\*").replace("_", "\\_")
    return env


def build_report(params: dict, out_dir: Path | None = None) -> list[Path]:
    """Write reports/report.html, report.typ and report.pdf; return their paths."""
    import typst

    out_dir = out_dir or paths.REPORTS
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = collect_context(params)
    env = _env()
    html_path, typ_path, pdf_path = out_dir / "report.html", out_dir / "report.typ", out_dir / "report.pdf"
    html_ctx = {**ctx, "figures": [{**f, "src": Path("..") / "output" / "figures" / f"{f['stem']}.png",
                                    "notebook_html": Path("..") / "output" / "notebooks" / f"{f['notebook']}.html"}
                                   for f in ctx["figures"]]}
    html_ctx["replication_html"] = render_html(ctx["replication"])
    suffix = ".zh" if ctx["lang"] == "zh" else ""
    html_path.write_text(env.get_template(f"report{suffix}.html.j2").render(**html_ctx), encoding="utf-8")
    # Typst resolves absolute image paths against its root; "/" lets the report live anywhere.
    typ_ctx = {**ctx, "figures": [{**f, "src": str(f["png"].resolve())} for f in ctx["figures"]]}
    typ_path.write_text(env.get_template(f"report{suffix}.typ.j2").render(**typ_ctx), encoding="utf-8")
    tmp = pdf_path.with_suffix(".pdf.tmp")
    typst.compile(str(typ_path), output=str(tmp), root="/", font_paths=[str(cjk_font_path().parent)])
    tmp.replace(pdf_path)  # no partial PDF if compilation fails
    return [html_path, typ_path, pdf_path]
