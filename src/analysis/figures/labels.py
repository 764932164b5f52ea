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
        "lon": "经度",
        "lat": "纬度",
    },
}


def label(key: str, lang: str = "en") -> str:
    return LABELS[lang][key]
