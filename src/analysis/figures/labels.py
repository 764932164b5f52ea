"""Every string a figure shows, in English and Chinese (each figure is drawn in both languages).

Three kinds of string:

- ``label(key, lang)``: fixed figure labels (axis titles, legends, titles), by key;
- ``tr(text, lang)``: strings that arrive with the data (row labels of the robustness summary,
  Goodman-Bacon comparison types, HonestDiD restrictions, specification-curve choices,
  heterogeneity groups, simulation designs). English is their source language; ``TRANSLATIONS_ZH``
  holds the fixed ones and ``PATTERNS_ZH`` the ones that carry a number or a name
  (``"TWFE, placebo RI p = 0.010"``). A string with no translation is returned unchanged, so a new
  label shows up in English in the zh figures, which the zh-figure test catches;
- ``p_text(p, draws)``: a p-value as printed in figures (never ``p = 0``).

Estimator acronyms (TWFE, CS, SA, BJS, PSM-DID), citations and proper names stay as they are.
"""

from __future__ import annotations

import re

from analysis.pvalues import format_p

LANGS = ("en", "zh")

LABELS = {
    "en": {
        "year": "Year",
        "cities_treated": "Cities treated (cumulative)",
        "pilot": "CBEC pilot zone",
        "rail": "International rail freight",
        "broadband_china": "Broadband China demonstration city",
        "never": "Never designated",
        "cohort": "Designation year",
        "log_exports": "Log exports (USD mn)",
        "n_cities": "Number of cities",
        "share_cities": "Share of cities (poorest to richest exporters)",
        "share_exports": "Share of exports",
        "event_time": "Years relative to treatment",
        "effect": "Effect on log exports",
        "truth": "True effect (simulation)",
        "twfe_es": "TWFE event study",
        "dose": "Broadband users per 100 people",
        "dose_effect": "Effect on log exports (vs lowest coverage)",
        "spline": "TWFE, piecewise linear in log dose",
        "bins": "TWFE, quantile bins pooled across years (attenuated)",
        "rollout_title": "Roll-out of the treatments",
        "dist_title": "Export distribution across cities",
        "lorenz_title": "Concentration of exports",
        "top_exporters": "Largest exporters",
        "pilot_es_title": "Pilot zones: effect on log exports by years since designation",
        # issue 20: the Broadband China (network coverage) design
        "broadband_china_es_title": "Broadband China: effect on log exports by years since designation",
        "rail_es_title": "Rail links: effect on log exports by years since first service",
        "dose_title": "Network coverage: dose-response of log exports",
        "sim_error": "Estimate − true ATT",
        "bjs_city_effect": "Mean imputed effect on log exports (BJS)",
        # the interactive notebook (analysis.figures.learn)
        "learn_truth": "true ATT = {value:.3f}",
        "learn_truth_direct": "true direct effect = {value:.3f} (GDP held fixed)",
        "learn_estimate": "estimate, 95% CI",
        "learn_expected": "expected value (same panel without noise)",
        "learn_att": "ATT on log exports",
        "learn_estimates_title": "Overall ATT against the truth",
        "learn_twfe_es": "TWFE event study",
        "learn_es_title": "Event studies: TWFE against the robust estimators",
        "learn_forbidden": "forbidden: already-treated controls (weight {value:.0%})",
        "learn_bacon_title": "Goodman-Bacon weights of TWFE (no controls)",
        "synthetic_badge": "SYNTHETIC DATA — not real exports",
        "actual": "actual = {value:.3f}",
        "pooled": "pooled = {value:.3f}",
        "median": "median = {value:.3f}",
        "true_att": "true ATT = {value:.3f} (simulation)",
        "true_att_direct": "true direct ATT = {value:.3f} (GDP on its untreated path)",
        "twfe_line": "TWFE = {value:.3f}",
        "ri_title": "Randomization inference ({draws} draws, {p})",
        # synthetic difference-in-differences (analysis.figures.synthdid)
        "sdid_sdid": "Synthetic difference-in-differences",
        "sdid_sc": "Synthetic control",
        "sdid_did": "Difference-in-differences",
        "sdid_effect": "estimate = {value:.3f}",
        "sdid_period": "Period",
        "sdid_outcome": "Outcome",
        "sdid_treated": "Treated (average)",
        "sdid_synthetic": "Synthetic control (ω-weighted controls)",
        "sdid_time_weights": "Time weights λ (pre-treatment)",
        "sdid_onset": "Treatment onset",
        "sdid_unit_weights": "Unit weight ω",
        "sdid_weights_title": "Largest control-unit weights",
        # HonestDiD sensitivity (analysis.figures.sensitivity)
        "hd_sd_title": "Smoothness: the trend's slope may change by at most M per year",
        "hd_rm_title": "Relative magnitudes: post violations at most $\\bar M$ × the largest pre one",
        "hd_M": "M (bound on the change in slope per year)",
        "hd_Mbar": "$\\bar M$ (post-period violation / largest pre-period violation)",
        "hd_ylabel": "Target effect, 95% CI",
        "hd_original": "Conventional CI (exact parallel trends)",
        "hd_robust": "Robust CI",
        "hd_benchmark_M": "largest pre-period bend = {value:.3g}",
        "hd_benchmark_Mbar": "$\\bar M$ = 1: as large as the largest pre-period violation",
        "hd_benchmark_M_power": "80%-power trend slope = {value:.3g}",
        "hd_benchmark_Mbar_power": "$\\bar M$ = {value:.2g}: jumps as steep as the 80%-power trend",
        "hd_truth": "true value of the target = {value:.3f} (simulation)",
        "actual_t": "actual t = {value:.2f}",
        # specification curve (analysis.figures.spec_curve)
        "sc_title": "Specification curve: the pilot-zone ATT on log exports",
        "sc_ylabel": "ATT on log exports (95% CI)",
        "sc_xlabel": "Specifications, ordered by estimate",
        "sc_sig": "robust estimator, CI excludes 0",
        "sc_ns": "robust estimator, CI includes 0",
        "sc_foil": "TWFE (foil: biased under staggered, growing effects)",
        "sc_median": "median of the robust specifications = {value:.3f}",
        "sc_headline": "headline (BJS, study covariates) = {value:.3f}",
        "sc_joint": "joint test, {draws} null draws",
        "sc_p_median": "median {p}",
        "sc_p_share": "share significant {p}",
        "sc_p_z": "Stouffer Z {p}",
        # power of pre-trend tests (analysis.figures.pretrends)
        "pt_title": "Event plot and a hypothesised pre-trend",
        "pt_ylabel": "Event-study coefficient",
        "pt_estimates": "Estimated coefficients ({value:.0f}% CI)",
        "pt_trend": "Hypothesised trend",
        "pt_trend_power": "Hypothesised trend (pre-test power {value:.0%})",
        "pt_after": "Expected estimate after passing the pre-test",
        "sc_outlier": "outlying ({n}): drawn at the edge, value printed",
        "sc_outlier_value": "{value:.2f} (s.e. {se:.2f})",
        # issue 19: the China-Laos corridor (analysis.figures.corridor) and spillovers
        "cor_traj_title": "Corridor cities and their synthetic control",
        "cor_outcome": "Log exports net of controls and pilot effects",
        "cor_outcome_raw": "Log exports",
        "cor_treated": "Corridor cities (mean)",
        "cor_synthetic": "Synthetic control (SDID weights)",
        "cor_onset": "China-Laos railway opens (coded 2022)",
        "cor_gap_title": "Gap to the synthetic control by year",
        "cor_gap": "Gap (net of the weighted pre-period gap)",
        "cor_band": "95% interval from same-province placebo corridors",
        "cor_placebo_title": "Placebo corridors (same-province donor sets)",
        "cor_placebo_att": "Placebo ATT",
        "cor_actual": "corridor = {value:.3f}",
        "spill_title": "Direct and spillover effects of pilot zones",
        "spill_effect": "Effect on log exports (95% CI)",
        "spill_naive": "Direct, exposed cities as controls (naive)",
        "spill_direct": "Direct, ring design",
        "spill_ring": "Spillover, {value} km",
        "spill_es_title": "Spillover by years since first exposure",
        "spill_since": "Years since first exposure",
        "spill_map_title": "Exposure rings in {value}",
        "spill_treated": "Pilot zone (effect started)",
        "spill_band": "Untreated, {value} km from a pilot zone",
        "spill_control": "Untreated, beyond {value} km (control)",
        # power of the design (analysis.figures.power)
        "pw_effect": "True overall ATT on log exports",
        "pw_power": "Rejection rate of the 5% test",
        "pw_constant": "constant effect",
        "pw_growing": "effect growing with years since treatment",
        "pw_truth": "true ATT = {value:.3f} (simulation)",
        "pw_headline": "Headline (BJS, the study's clusters, t(G-1))",
        "pw_bjs": "BJS imputation",
        "pw_cs": "Callaway-Sant'Anna",
        "pw_sa": "Sun-Abraham",
        "pw_twfe": "TWFE (one dummy)",
    },
    "zh": {
        "year": "年份",
        "cities_treated": "累计处理城市数",
        "pilot": "跨境电商综试区",
        "rail": "国际铁路货运（中欧班列/中老铁路）",
        "broadband_china": "“宽带中国”示范城市",
        "never": "未设立",
        "cohort": "设立年份",
        "log_exports": "出口额对数（百万美元）",
        "n_cities": "城市数",
        "share_cities": "城市累计占比（按出口额由低到高）",
        "share_exports": "出口累计占比",
        "event_time": "相对处理年份",
        "effect": "对出口额对数的影响",
        "truth": "真实效应（模拟）",
        "twfe_es": "TWFE 事件研究",
        "dose": "每百人宽带用户数",
        "dose_effect": "对出口额对数的影响（相对最低覆盖率）",
        "spline": "TWFE，对数剂量分段线性",
        "bins": "TWFE，跨年混合分位数分组（被衰减）",
        "rollout_title": "政策与基础设施的推进",
        "dist_title": "城市出口额分布",
        "lorenz_title": "出口集中度",
        "top_exporters": "出口额最大的城市",
        "pilot_es_title": "综试区：设立后各年对出口额对数的影响",
        "broadband_china_es_title": "“宽带中国”示范城市：入选后各年对出口额对数的影响",
        "rail_es_title": "铁路联通：首趟班列后各年对出口额对数的影响",
        "dose_title": "网络覆盖：出口额对数的剂量反应",
        "sim_error": "估计值 − 真实 ATT",
        "bjs_city_effect": "插补估计的城市平均效应（出口额对数，BJS）",
        "learn_truth": "真实 ATT = {value:.3f}",
        "learn_truth_direct": "真实直接效应 = {value:.3f}（人均 GDP 固定）",
        "learn_estimate": "估计值及 95% 置信区间",
        "learn_expected": "期望值（同一面板去掉噪声）",
        "learn_att": "对出口额对数的 ATT",
        "learn_estimates_title": "总体 ATT 与真实值",
        "learn_twfe_es": "TWFE 事件研究",
        "learn_es_title": "事件研究：TWFE 与稳健估计量",
        "learn_forbidden": "禁止的比较：以已处理城市为对照（权重 {value:.0%}）",
        "learn_bacon_title": "TWFE 的 Goodman-Bacon 权重（无控制变量）",
        "synthetic_badge": "模拟数据——非真实出口",
        "actual": "实际估计 = {value:.3f}",
        "pooled": "合并估计 = {value:.3f}",
        "median": "中位数 = {value:.3f}",
        "true_att": "真实 ATT = {value:.3f}（模拟）",
        "true_att_direct": "真实直接 ATT = {value:.3f}（GDP 保持未处理路径）",
        "twfe_line": "TWFE = {value:.3f}",
        "ri_title": "随机化推断（{draws} 次抽样，{p}）",
        "sdid_sdid": "合成双重差分",
        "sdid_sc": "合成控制",
        "sdid_did": "双重差分",
        "sdid_effect": "估计值 = {value:.3f}",
        "sdid_period": "时期",
        "sdid_outcome": "结果变量",
        "sdid_treated": "处理组（平均）",
        "sdid_synthetic": "合成对照（对照单位按 ω 加权）",
        "sdid_time_weights": "时间权重 λ（处理前）",
        "sdid_onset": "处理开始",
        "sdid_unit_weights": "单位权重 ω",
        "sdid_weights_title": "权重最大的对照单位",
        "hd_sd_title": "平滑性限制：趋势斜率每年变化不超过 M",
        "hd_rm_title": "相对幅度限制：处理后偏离不超过处理前最大偏离的 $\\bar M$ 倍",
        "hd_M": "M（每年斜率变化的上限）",
        "hd_Mbar": "$\\bar M$（处理后偏离 / 处理前最大偏离）",
        "hd_ylabel": "目标效应及 95% 置信区间",
        "hd_original": "常规置信区间（平行趋势完全成立）",
        "hd_robust": "稳健置信区间",
        "hd_benchmark_M": "处理前最大弯曲 = {value:.3g}",
        "hd_benchmark_Mbar": "$\\bar M$ = 1：与处理前最大偏离同样大",
        "hd_benchmark_M_power": "80% 功效趋势斜率 = {value:.3g}",
        "hd_benchmark_Mbar_power": "$\\bar M$ = {value:.2g}：与 80% 功效趋势同样陡",
        "hd_truth": "目标的真实值 = {value:.3f}（模拟）",
        "actual_t": "实际 t 值 = {value:.2f}",
        "sc_title": "设定曲线：综试区对出口额对数的 ATT",
        "sc_ylabel": "对出口额对数的 ATT（95% 置信区间）",
        "sc_xlabel": "设定（按估计值排序）",
        "sc_sig": "稳健估计量，置信区间不含 0",
        "sc_ns": "稳健估计量，置信区间含 0",
        "sc_foil": "TWFE（对照：交错且逐年增长的效应下有偏）",
        "sc_median": "稳健设定的中位数 = {value:.3f}",
        "sc_headline": "主估计（BJS，研究协变量） = {value:.3f}",
        "sc_joint": "联合检验（{draws} 次零假设抽样）",
        "sc_p_median": "中位数 {p}",
        "sc_p_share": "显著占比 {p}",
        "sc_p_z": "合并 Z 值 {p}",
        "pt_title": "事件研究图与假设的处理前趋势",
        "pt_ylabel": "事件研究系数",
        "pt_estimates": "估计系数（{value:.0f}% 置信区间）",
        "pt_trend": "假设的趋势",
        "pt_trend_power": "假设的趋势（预检验功效 {value:.0%}）",
        "pt_after": "通过预检验条件下的期望估计值",
        "sc_outlier": "离群设定（{n} 个）：画在边缘并标出数值",
        "sc_outlier_value": "{value:.2f}（标准误 {se:.2f}）",
        "cor_traj_title": "中老铁路沿线城市及其合成对照",
        "cor_outcome": "出口额对数（剔除控制变量与综试区效应）",
        "cor_outcome_raw": "出口额对数",
        "cor_treated": "沿线城市（平均）",
        "cor_synthetic": "合成对照（SDID 权重）",
        "cor_onset": "中老铁路开通（编码为 2022 年）",
        "cor_gap_title": "各年与合成对照的差距",
        "cor_gap": "差距（扣除处理前加权差距）",
        "cor_band": "95% 区间（同省安慰剂组合）",
        "cor_placebo_title": "安慰剂走廊（同省对照城市组合）",
        "cor_placebo_att": "安慰剂 ATT",
        "cor_actual": "沿线城市 = {value:.3f}",
        "spill_title": "综试区的直接效应与溢出效应",
        "spill_effect": "对出口额对数的影响（95% 置信区间）",
        "spill_naive": "直接效应，受影响城市作对照（朴素）",
        "spill_direct": "直接效应，距离环设计",
        "spill_ring": "溢出效应，{value} 公里",
        "spill_es_title": "首次受影响后各年的溢出效应",
        "spill_since": "首次受影响后的年数",
        "spill_map_title": "{value} 年的距离环",
        "spill_treated": "综试区（效应已开始）",
        "spill_band": "未处理，距综试区 {value} 公里",
        "spill_control": "未处理，{value} 公里以外（对照）",
        "pw_effect": "真实总体 ATT（出口额对数）",
        "pw_power": "5% 检验的拒绝率",
        "pw_constant": "效应不变",
        "pw_growing": "效应随处理年数增长",
        "pw_truth": "真实 ATT = {value:.3f}（模拟）",
        "pw_headline": "主估计（BJS，研究的聚类层级，t(G-1)）",
        "pw_bjs": "BJS 插补估计",
        "pw_cs": "Callaway-Sant'Anna",
        "pw_sa": "Sun-Abraham",
        "pw_twfe": "TWFE（单一处理虚拟变量）",
    },
}


def label(key: str, lang: str = "en", **values) -> str:
    text = LABELS[lang][key]
    return text.format(**values) if values else text


# Strings that come with the data, English source -> Chinese.
TRANSLATIONS_ZH = {
    # robustness figures: titles and axes
    "Heterogeneity of the pilot-zone effect": "综试区效应的异质性",
    "Specification curve": "设定曲线",
    "Pilot-zone effect across robustness checks": "各稳健性检验下的综试区效应",
    "Effect on log exports (95% CI)": "对出口额对数的影响（95% 置信区间）",
    "Estimate (95% CI)": "估计值（95% 置信区间）",
    "Specifications, ordered by estimate": "设定（按估计值排序）",
    "TWFE coefficient under placebo timing": "安慰剂设立时间下的 TWFE 系数",
    "Density": "密度",
    "Weight": "权重",
    "2x2 DiD estimate": "2x2 双重差分估计",
    "Goodman-Bacon decomposition": "Goodman-Bacon 分解",
    "Robust 95% CI of the average post effect": "设立后平均效应的稳健 95% 置信区间",
    "|standardized mean difference|": "|标准化均值差|",
    "Covariate balance (PSM)": "协变量平衡（倾向得分匹配）",
    "placebo estimates": "安慰剂估计",
    "baseline": "基准",
    "before matching": "匹配前",
    "after matching": "匹配后",
    "original": "原始区间",
    "Original": "原始区间",
    # robustness summary rows (analysis.studies.robustness.checklist)
    "Doubly robust CS, baseline covariates": "双重稳健 CS（基期协变量）",
    "TWFE (biased under staggered adoption; foil)": "TWFE（交错处理下有偏；作对照）",
    "placebo t statistics": "安慰剂 t 统计量",
    "t statistic of the BJS ATT under placebo timing": "安慰剂设立时间下 BJS ATT 的 t 统计量",
    "before weighting": "加权前",
    "after weighting": "加权后",
    "Covariate balance (inverse-propensity weights)": "协变量平衡（逆倾向得分加权）",
    "unstratified": "不分层",
    "within provinces": "省内置换",
    "within region x coast": "地区×沿海分层内置换",
    "within baseline GDP quintiles": "设立前人均GDP五分位内置换",
    "TWFE (baseline, city-clustered CI)": "TWFE（基准，城市聚类置信区间）",
    "PSM-DID": "PSM-DID（倾向得分匹配双重差分）",
    "TWFE without controls (Bacon total)": "无控制变量的 TWFE（Bacon 分解总和）",
    "CS simple ATT": "CS 简单平均 ATT",
    "pilot free trade zone": "自由贸易试验区",
    "average": "平均",
    "first": "设立当年",
    # Goodman-Bacon comparison types (analysis.did.bacon)
    "Treated vs Untreated": "处理组 vs 从未处理组",
    "Earlier vs Later Treated": "较早处理组 vs 较晚处理组（以未处理期为对照）",
    "Later vs Earlier Treated": "较晚处理组 vs 较早处理组（以已处理组为对照）",
    "Later vs Always Treated": "较晚处理组 vs 始终处理组",
    # HonestDiD restrictions and methods (analysis.did.honestdid)
    "DeltaSD": r"平滑性限制 $\Delta^{SD}(M)$",
    "DeltaRM": r"相对幅度限制 $\Delta^{RM}(\bar{M})$",
    "FLCI": "FLCI（固定长度置信区间）",
    "C-LF": "C-LF（条件-最小有利混合检验）",
    "Conditional": "条件检验",
    # heterogeneity (analysis.studies.robustness.heterogeneity)
    "region": "地区",
    "coastal": "沿海",
    "inland": "内陆",
    "batch": "批次",
    "size": "规模（2010 年出口额三分位）",
    "east": "东部",
    "central": "中部",
    "west": "西部",
    "northeast": "东北",
    "small": "小",
    "medium": "中",
    "large": "大",
    "interaction": "交互项",
    "split": "分样本",
    "pooled": "合并",
    "group's own cell weights (raw)": "各组自身单元权重（原始）",
    "common cell weights (effect modification)": "共同单元权重（效应修饰）",
    "raw": "原始",
    "common": "共同权重",
    # specification-curve dimensions and choices (analysis.studies.robustness.spec_curve)
    "estimator": "估计量",
    "controls": "控制变量",
    "sample": "样本",
    "cluster": "聚类",
    "timing": "处理时点",
    "outcome": "结果变量",
    "none": "无",
    "study": "研究协变量（主结果）",
    "all_untreated": "全部控制变量取未处理路径",
    "baseline_all": "全部控制变量基期值×年份",
    "all": "全部城市",
    "city_code": "城市",
    "city": "城市",
    "province": "省份",
    "approval": "批复当年",
    "following": "批复次年",
    "midyear": "年中规则（上半年批复计当年）",
    "as_coded": "按面板编码",
    "log_exports": "出口额对数",
    "export_growth": "出口增长率",
    "log_exports_pc": "人均出口额对数",
    # covariates (PSM balance)
    "log_gdp_pc": "人均 GDP 对数",
    "log_population": "人口对数",
    "log_fdi": "FDI 对数",
    "industry_share_pct": "第二产业占比（%）",
    # simulation designs and estimators (analysis.studies.simulation)
    "homogeneous, constant effect": "同质、恒定效应",
    "heterogeneous, growing effect (default)": "异质、逐年增长的效应（默认）",
    "TWFE (one dummy)": "TWFE（单一处理虚拟变量）",
    "Imputation (BJS)": "插补估计（BJS）",
    "Headline: BJS, SE by the study's clustering rule, t(G-1)": "主估计：BJS，按本研究聚类规则的标准误，t(G-1)",
    "Headline estimate, city-clustered t(G-1) interval (appendix)": "主估计，按城市聚类的 t(G-1) 区间（附录）",
    "Direct effect (decomposition): BJS, controls as observed": "直接效应（分解）：BJS，控制变量取观测值",
    "Rail headline (China-Europe Railway Express): BJS, pilot zones by cohort x event time": (
        "铁路主估计（中欧班列）：BJS，综试区按批次 × 事件时间控制"
    ),
    "Rail (China-Europe Railway Express), one on/off pilot dummy (old)": (
        "铁路（中欧班列），单一综试区虚拟变量（旧设定）"
    ),
    "Callaway-Sant'Anna (no covariates)": "Callaway-Sant'Anna（无协变量）",
    "Callaway-Sant'Anna (control-adjusted)": "Callaway-Sant'Anna（控制变量调整）",
    "Callaway-Sant'Anna (control-adjusted, fixed weights)": "Callaway-Sant'Anna（控制变量调整，固定权重）",
    "Sun-Abraham (fixed weights)": "Sun-Abraham（固定权重）",
    "Callaway-Sant'Anna": "Callaway-Sant'Anna",
    "Callaway-Sant'Anna (covariate-adjusted)": "Callaway-Sant'Anna（协变量调整）",
    "Sun-Abraham": "Sun-Abraham",
    "TWFE event study": "TWFE 事件研究",
    # simulation estimator codes (analysis.studies.simulation.PIPELINE)
    "twfe": "TWFE",
    "bjs": "BJS",
    "cs_nocov": "CS（无协变量）",
    "cs_tv": "CS（时变协变量调整）",
    "headline": "主结果（BJS，含协变量）",
    "direct": "直接效应（分解）",
    # the spillover Monte Carlo's rows (analysis.studies.spillover.MC_LABELS)
    "BJS, exposed cities among the controls (naive): direct effect": (
        "BJS，受影响城市作对照（朴素）：直接效应"
    ),
    "BJS ring design: direct effect": "BJS 距离环设计：直接效应",
    "BJS ring design: spillover (rings pooled)": "BJS 距离环设计：溢出效应（各环合并）",
    "rail_headline": "铁路主估计（中欧班列）",
}


def _zh(text: str) -> str:
    return tr(text, "zh")


# Strings with a number or a name inside: (pattern, Chinese with the groups translated).
PATTERNS_ZH: list[tuple[re.Pattern, object]] = [
    (
        re.compile(r"^BJS imputation ATT, headline \(SE by (.+)\)$"),
        lambda m: f"BJS 插补 ATT，主结果（按{_zh(m[1])}聚类标准误）",
    ),
    (
        re.compile(r"^BJS, randomization inference (unstratified|within .+)$"),
        lambda m: f"BJS，随机化推断（{_zh(m[1])}）",
    ),
    (
        re.compile(r"^BJS, wild bootstrap CI \((.+)\)$"),
        lambda m: f"BJS，野聚类自助法置信区间（按{_zh(m[1])}聚类）",
    ),
    (
        re.compile(r"^TWFE, wild bootstrap CI \((.+)\)$"),
        lambda m: f"TWFE，野聚类自助法置信区间（按{_zh(m[1])}聚类）",
    ),
    (re.compile(r"^TWFE, placebo RI (p .+)$"), lambda m: f"TWFE，安慰剂随机化推断 {m[1]}"),
    (
        re.compile(r"^Event study, (\w+) post effect$"),
        lambda m: f"事件研究，设立后{_zh(m[1])}效应",
    ),
    (
        re.compile(r"^Spec curve median \((\d+) specifications, joint test (\d+) null draws\)$"),
        lambda m: f"设定曲线中位数（{m[1]} 个设定，联合检验 {m[2]} 次零假设抽样）",
    ),
    (
        re.compile(r"^BJS, timing: (\w+) \(moves batches ([\d,]+)\)$"),
        lambda m: f"BJS，处理时点：{_zh(m[1])}（第 {m[2]} 批时点改变）",
    ),
    # issue 19: Conley SEs and the ring design in the robustness summary
    (
        re.compile(r"^TWFE \(foil\), SE Conley ([\d.]+) km$"),
        lambda m: f"TWFE（作对照），Conley 标准误（{m[1]} 公里）",
    ),
    (
        re.compile(r"^TWFE event study, mean post effect, SE Conley ([\d.]+) km$"),
        lambda m: f"TWFE 事件研究，设立后平均效应，Conley 标准误（{m[1]} 公里）",
    ),
    (
        re.compile(r"^BJS ring design: direct effect \(controls beyond ([\d.]+) km\)$"),
        lambda m: f"BJS 距离环设计：直接效应（对照为 {m[1]} 公里以外）",
    ),
    (
        re.compile(r"^BJS ring design: spillover on untreated cities within ([\d.]+) km$"),
        lambda m: f"BJS 距离环设计：{m[1]} 公里内未处理城市的溢出效应",
    ),
    (re.compile(r"^control: (.+)$"), lambda m: f"控制：{_zh(m[1])}"),
    (re.compile(r"^drop: (.+)$"), lambda m: f"剔除：{_zh(m[1])}"),
    (re.compile(r"^batch (\d+)$"), lambda m: f"第 {m[1]} 批"),
    (re.compile(r"^(TWFE|CS simple ATT|SA|BJS), (.+)$"), lambda m: f"{_zh(m[1])}，{_zh(m[2])}"),
    (re.compile(r"^(\w+): (.+)$"), lambda m: f"{_zh(m[1])}：{_zh(m[2])}"),
    (re.compile(r"^(.+), (.+)$"), lambda m: f"{_zh(m[1])}，{_zh(m[2])}"),
]


def tr(text: str, lang: str = "en") -> str:
    """``text`` in ``lang`` (English is the source language; untranslated text is returned as is)."""
    text = str(text)
    if lang != "zh":
        return text
    if text in TRANSLATIONS_ZH:
        return TRANSLATIONS_ZH[text]
    for pattern, replace in PATTERNS_ZH:
        match = pattern.match(text)
        if match:
            return replace(match)
    return text


COVARIATES_EN = {
    "log_gdp_pc": "log GDP per capita",
    "log_population": "log population",
    "log_fdi": "log FDI",
    "industry_share_pct": "industry share (%)",
}


def covariate(name: str, lang: str = "en") -> str:
    return tr(name, lang) if lang == "zh" else COVARIATES_EN.get(name, name)


ESTIMATOR_CODES = ("twfe", "cs", "sa", "bjs")


def spec_choice(dimension: str, option: str, lang: str = "en") -> str:
    """A row label of the specification curve's indicator panel: the code names in English
    (``cluster: province``, as in params.yaml), translated in Chinese (estimators as acronyms)."""
    if lang != "zh":
        return f"{dimension}: {option}"
    if option in ESTIMATOR_CODES:
        shown = option.upper()
    elif (dimension, option) == ("controls", "controls"):
        shown = "有"
    else:
        shown = tr(option, lang)
    return f"{tr(dimension, lang)}：{shown}"


def p_text(p: float | None, draws: int | None = None) -> str:
    """A p-value for a figure, in the one convention of :mod:`analysis.pvalues` (never ``p = 0``;
    a resampling p-value at its floor 1/(B+1) is printed as that bound)."""
    return format_p(p, draws, na="p = n/a", space=" ")
