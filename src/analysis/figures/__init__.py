"""One function per figure; all share the house style in ``style``."""

import importlib


def figure_function(name: str):
    """A figure function by name: ``"plot_x"`` in analysis.figures.robustness, ``"module.plot_x"``
    in analysis.figures.module (the names the robustness checklist records for its figures)."""
    module, _, func = name.rpartition(".")
    return getattr(importlib.import_module(f"analysis.figures.{module or 'robustness'}"), func)
