"""The house style draws every figure with fonts shipped in wheels, whatever the system has."""

from __future__ import annotations

import shutil
from pathlib import Path

from matplotlib import font_manager

from analysis.figures import style


def _resolved(family: str) -> Path:
    return Path(
        font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    )


def test_cjk_family_resolves_to_the_wheel_font_even_with_a_namesake(tmp_path):
    """A system package with the same family name (Debian's fonts-noto-cjk) must not take over:
    it changed the bytes of every figure on machines that have it (issue 16)."""
    impostor = tmp_path / "AAA-NotoSansCJK-Regular.otf"  # sorts first, same family name
    shutil.copy(style.cjk_font_path(), impostor)
    font_manager.fontManager.addfont(str(impostor))
    style.use_house_style()
    assert _resolved(style.CJK_FONT_NAME) == style.cjk_font_path()
    names = {
        Path(f.fname) for f in font_manager.fontManager.ttflist if f.name == style.CJK_FONT_NAME
    }
    assert names == {style.cjk_font_path()}


def test_latin_fallback_is_matplotlibs_own_dejavu():
    style.use_house_style()
    assert _resolved("DejaVu Sans").parent == style.dejavu_font_dir()
