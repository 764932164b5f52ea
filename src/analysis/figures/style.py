"""House style for every figure: seaborn theme, colour-blind-safe palette, a CJK font from the
PyPI package ``mplfonts`` (so Chinese city names render on a machine without system fonts), a
SYNTHETIC badge when the default data is used, and byte-stable files (fixed metadata)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib import font_manager

from analysis.figures import labels

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


def _pin_font(family: str, path: Path) -> None:
    """Make ``family`` resolve to font files in ``path`` (a file, or the folder of its faces) only.

    Why: matplotlib's ``findfont`` picks among every installed font of a family name, so a system
    package with the same family (Debian's ``fonts-noto-cjk`` ships a "Noto Sans CJK SC" .ttc,
    ``fonts-dejavu-core`` a DejaVu Sans) changed which file drew every figure, and with it the
    bytes of every PNG/SVG (issue 16). Entries of the family from other files are removed from the
    font manager, whatever the system has installed."""
    manager = font_manager.fontManager
    if path.is_file():
        manager.addfont(str(path))

    def ours(entry) -> bool:
        where = Path(entry.fname)
        return where == path or where.parent == path

    manager.ttflist = [f for f in manager.ttflist if f.name != family or ours(f)]
    # findfont caches its answers (a private lru_cache); a stale answer would name the removed file
    cached = getattr(manager, "_findfont_cached", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def dejavu_font_dir() -> Path:
    """Folder of the DejaVu Sans faces shipped with matplotlib (Latin and mathtext fallback)."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def use_house_style() -> None:
    """Apply the theme; register the CJK font so that 中文 labels never render as empty boxes.
    Every family the figures use resolves to one file shipped in a wheel (:func:`_pin_font`)."""
    _pin_font(CJK_FONT_NAME, cjk_font_path())
    _pin_font("DejaVu Sans", dejavu_font_dir())
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


def add_synthetic_badge(fig, data_source: str, lang: str = "en") -> None:
    """Stamp figures built from the synthetic default data so they cannot be mistaken for real data.
    Regular weight: the CJK font has no bold face (a bold badge made matplotlib warn ``findfont``)."""
    if data_source == "synthetic":
        fig.text(
            0.99,
            0.01,
            labels.label("synthetic_badge", lang),
            ha="right",
            va="bottom",
            fontsize=8,
            color="white",
            bbox={"boxstyle": "round", "fc": "#c0392b", "ec": "none"},
        )


SKIPPED_KEY = "Skipped"
"""PNG text key of a figure drawn in place of estimates that could not be computed: its value is
the reason (JSON, ASCII), which the report prints instead of the picture (:func:`skipped_reason`)."""


def save_figure(
    fig, stem: Path | str, data_source: str, lang: str = "en", skipped: str | None = None
) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` with fixed metadata (byte-identical across runs),
    close the figure and return the paths. ``stem`` may contain dots (``pilot_event_study.zh``).
    ``skipped``: the reason a placeholder figure has no estimates, kept in the PNG's metadata."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    add_synthetic_badge(fig, data_source, lang)
    png, svg = stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg"
    meta = {"Software": None}
    if skipped is not None:
        meta[SKIPPED_KEY] = json.dumps(skipped)  # ASCII: PNG text chunks are Latin-1
    fig.savefig(png, metadata=meta)
    fig.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]


def event_study_axes(
    tidy: pd.DataFrame, ax=None, label=None, color=None, offset: float = 0.0, marker="o", lang="en"
):
    """Point estimates with 95% CIs by event time; dashed zero line and treatment onset."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    x = tidy["event_time"].to_numpy() + offset
    ax.errorbar(
        x,
        tidy["estimate"],
        yerr=[tidy["estimate"] - tidy["conf_low"], tidy["conf_high"] - tidy["estimate"]],
        fmt=marker,
        capsize=3,
        label=label,
        color=color,
        lw=1.2,
        ms=5,
    )
    ax.axhline(0, color="0.3", lw=0.8, ls="--")
    ax.axvline(-0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(labels.label("event_time", lang))
    ax.set_ylabel(labels.label("effect", lang))
    return ax


def skipped_reason(png: Path) -> str | None:
    """The reason stored by :func:`save_figure` in a placeholder PNG, else None."""
    from PIL import Image

    if not Path(png).is_file():
        return None
    with Image.open(png) as im:
        value = getattr(im, "text", {}).get(SKIPPED_KEY)
    return json.loads(value) if value else None


def plot_not_estimated(reason: str, lang: str = "en"):
    """A figure that states why it has no data (drawn instead of an estimate that could not be
    computed on this panel, so a skipped check is explained, never a blank or a missing file)."""
    import textwrap

    fig, ax = plt.subplots(figsize=(6.4, 1.8))
    ax.axis("off")
    head = "未估计" if lang == "zh" else "Not estimated on this panel"
    ax.text(0.5, 0.5, head + "\n" + textwrap.fill(reason, 80), ha="center", va="center", fontsize=9)
    return fig
