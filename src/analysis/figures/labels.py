"""Figure labels in English and Chinese (params.yaml: report.lang)."""

LABELS = {
    "en": {
        "year": "Year",
        "cities_treated": "Cities treated (cumulative)",
        "pilot": "CBEC pilot zone",
        "rail": "International rail freight",
        "never": "Never designated",
        "cohort": "Designation year",
        "log_exports": "Log exports (USD mn)",
        "share_cities": "Share of cities (poorest to richest exporters)",
        "share_exports": "Share of exports",
        "event_time": "Years relative to treatment",
        "effect": "Effect on log exports",
        "truth": "True effect (simulation)",
        "twfe_es": "TWFE event study",
        "dose": "Broadband users per 100 people",
        "dose_effect": "Effect on log exports (vs lowest bin)",
        "rollout_title": "Roll-out of the treatments",
        "map_title": "Pilot zones by designation year",
        "dist_title": "Export distribution across cities",
        "lorenz_title": "Concentration of exports",
        "pilot_es_title": "Pilot zones: effect on log exports by years since designation",
        "rail_es_title": "Rail links: effect on log exports by years since first service",
        "dose_title": "Network coverage: dose-response of log exports",
        "lon": "Longitude",
        "lat": "Latitude",
    },
    "zh": {
        "year": "年份",
        "cities_treated": "累计处理城市数",
        "pilot": "跨境电商综试区",
        "rail": "国际铁路货运（中欧班列/中老铁路）",
        "never": "未设立",
        "cohort": "设立年份",
        "log_exports": "出口额对数（百万美元）",
        "share_cities": "城市累计占比（按出口额由低到高）",
        "share_exports": "出口累计占比",
        "event_time": "相对处理年份",
        "effect": "对出口额对数的影响",
        "truth": "真实效应（模拟）",
        "twfe_es": "双向固定效应事件研究",
        "dose": "每百人宽带用户数",
        "dose_effect": "对出口额对数的影响（相对最低组）",
        "rollout_title": "政策与基础设施的推进",
        "map_title": "综试区设立年份的空间分布",
        "dist_title": "城市出口额分布",
        "lorenz_title": "出口集中度",
        "pilot_es_title": "综试区：设立后各年对出口额对数的影响",
        "rail_es_title": "铁路联通：首趟班列后各年对出口额对数的影响",
        "dose_title": "网络覆盖：出口额对数的剂量反应",
        "lon": "经度",
        "lat": "纬度",
    },
}


def label(key: str, lang: str = "en") -> str:
    return LABELS[lang][key]


# Free-text figure strings (robustness figures): English source -> Chinese.
TRANSLATIONS_ZH = {'Heterogeneity of the pilot-zone effect': '综试区效应的异质性', 'Specification curve': '设定曲线', 'Pilot-zone effect across robustness checks': '各稳健性检验下的综试区效应', 'Effect on log exports (95% CI)': '对出口额对数的影响（95% 置信区间）', 'Estimate (95% CI)': '估计值（95% 置信区间）', 'Specifications, ordered by estimate': '设定（按估计值排序）', 'TWFE coefficient under placebo timing': '安慰剂设立时间下的 TWFE 系数', 'Density': '密度', 'Weight': '权重', '2x2 DiD estimate': '2x2 双重差分估计', 'Goodman-Bacon decomposition': 'Goodman-Bacon 分解', 'Robust 95% CI of the average post effect': '设立后平均效应的稳健 95% 置信区间', '|standardized mean difference|': '|标准化均值差|', 'Covariate balance (PSM)': '协变量平衡（倾向得分匹配）', 'placebo estimates': '安慰剂估计', 'baseline': '基准', 'before matching': '匹配前', 'after matching': '匹配后', 'original': '原始区间'}


def tr(text: str, lang: str = "en") -> str:
    """``text`` in ``lang`` (English is the source language)."""
    return TRANSLATIONS_ZH.get(text, text) if lang == "zh" else text
