"""House style for every figure: seaborn theme, colour-blind-safe palette, a CJK font from the
PyPI package ``mplfonts`` (so Chinese city names render on a machine without system fonts), a
SYNTHETIC badge when the default data is used, and byte-stable files (fixed metadata)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402

PALETTE = sns.color_palette("colorblind")
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
CJK_FONT_NAME = "Noto Sans CJK SC"


def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK SC font shipped inside the mplfonts wheel."""
    spec = importlib.util.find_spec("mplfonts")
    path = Path(spec.origin).parent / "fonts" / CJK_FONT_FILE
    if not path.exists():  # pragma: no cover - only if the wheel changes its layout
        raise FileNotFoundError(f"{path}: CJK font missing; reinstall the environment (make env)")
    return path


def use_house_style() -> None:
    """Apply the theme; register the CJK font so that 中文 labels never render as empty boxes."""
    font_manager.fontManager.addfont(str(cjk_font_path()))
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    plt.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [CJK_FONT_NAME, "DejaVu Sans"],
            "axes.unicode_minus": False,
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "svg.hashsalt": "analysis",  # deterministic SVG ids
            "svg.fonttype": "path",
            "pdf.fonttype": 42,
        }
    )


def add_synthetic_badge(fig, data_source: str) -> None:
    """Stamp figures built from the synthetic default data so they cannot be mistaken for real data."""
    if data_source == "synthetic":
        fig.text(0.99, 0.01, "SYNTHETIC DATA — not real exports", ha="right", va="bottom", fontsize=8,
                 color="white", weight="bold", bbox={"boxstyle": "round", "fc": "#c0392b", "ec": "none"})


def save_figure(fig, stem: Path | str, data_source: str) -> list[Path]:
    """Write PNG and SVG with fixed metadata (byte-identical across runs); return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    add_synthetic_badge(fig, data_source)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]


def event_study_axes(tidy: pd.DataFrame, ax=None, label=None, color=None, offset: float = 0.0, marker="o"):
    """Point estimates with 95% CIs by event time; dashed zero line and treatment onset."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    x = tidy["event_time"].to_numpy() + offset
    ax.errorbar(x, tidy["estimate"], yerr=[tidy["estimate"] - tidy["conf_low"], tidy["conf_high"] - tidy["estimate"]],
                fmt=marker, capsize=3, label=label, color=color, lw=1.2, ms=5)
    ax.axhline(0, color="0.3", lw=0.8, ls="--")
    ax.axvline(-0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("Years relative to treatment")
    ax.set_ylabel("Effect on log exports")
    return ax
