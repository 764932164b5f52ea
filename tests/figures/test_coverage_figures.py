"""The network study's figures draw the estimators' own intervals."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.collections import LineCollection

from analysis.figures.coverage import plot_dose_event_studies


def test_dcdh_bars_are_the_estimators_intervals_not_normal_ones():
    """dCDH's intervals are t(G-1) with the province jackknife: the bars must span conf_low to
    conf_high (here wider than +/- 1.96 s.e. and asymmetric), whatever the s.e. says."""
    es = {
        "event_time": [-2, 0, 1],
        "estimate": [0.0, 0.01, 0.02],
        "std_error": [0.001, 0.001, 0.001],
        "conf_low": [-0.01, -0.005, 0.0],
        "conf_high": [0.02, 0.03, 0.05],
    }
    fig = plot_dose_event_studies({"broadband_per100": {"band_width": 10, "event_study": es}})
    bars = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    spans = sorted((seg[0][1], seg[1][1]) for c in bars for seg in c.get_segments())
    np.testing.assert_allclose(spans, sorted(zip(es["conf_low"], es["conf_high"])))
