"""Cross-check of ``analysis.did.conley`` against diff-diff's Conley covariance (a peer package that
is not a dependency of the project: it runs in a throwaway environment).

    python3 -m venv /tmp/peer_conley && /tmp/peer_conley/bin/pip install diff-diff
    python benchmarks/peer_conley_diffdiff.py [--peer-python /tmp/peer_conley/bin/python]

Step 1 (project environment): a spatially correlated TWFE panel on the 337 city coordinates
(tests/helpers/spatial.py), the regression by the FE kernel, our raw Conley covariances (no
small-sample factor, Earth radius 6371.01 km as diff-diff / conleyreg), and the demeaned regressors
and residuals, written to a temporary .npz. Step 2 (peer environment, ``--check``): diff-diff's
``_compute_conley_vcov`` on the same demeaned regressors and residuals, and the largest absolute
differences. Two forms: diff-diff's cross-sectional Conley on the stacked city-years (every pair of
observations, the same-city pairs at distance 0) is fixest's pooled form, our ``lag=None``;
diff-diff's panel form (``conley_lag_cutoff``, conleyreg) is our ``lag=L`` with the Bartlett
serial kernel.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = [  # (label, cutoff_km, kernel, lag)
    ("pooled uniform 200 km", 200.0, "uniform", None),
    ("pooled bartlett 400 km", 400.0, "bartlett", None),
    ("lag 0 uniform 200 km", 200.0, "uniform", 0),
    ("lag 3 bartlett 300 km", 300.0, "bartlett", 3),
    ("lag 13 uniform 500 km", 500.0, "uniform", 13),
]
RADIUS = 6371.01  # diff-diff's and conleyreg's Earth radius


def dump(path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.spatial import simulate_spatial_panel

    from analysis.did.conley import ConleySpec, conley_cov
    from analysis.did.event_study import _name, event_time_dummies
    from analysis.did.fe import FEProjector, fit_within

    df = simulate_spatial_panel(np.random.default_rng(7), error_range_km=200.0, rho=0.7)
    df, periods = event_time_dummies(df, "cohort", "year", (-4, 4))
    xs = ["treat"] + [_name(k) for k in periods if k in (-3, -2, 0, 1)]
    df = df.assign(z=np.random.default_rng(8).standard_normal(len(df)))
    xs = [*xs, "z"]
    fit = fit_within(df, "y", xs, "unit", "year", keep_scores=True)
    ws = fit.within_scores
    proj = FEProjector(ws.unit, pd_codes(df["year"]))
    xt = proj.residualize(df[xs].to_numpy(float))
    u = proj.residualize(df["y"].to_numpy(float)) - xt @ fit.params
    assert np.abs(xt * u[:, None] - ws.scores).max() < 1e-10
    lat, lon = df["lat"].to_numpy(), df["lon"].to_numpy()
    ours, times = {}, {}
    for label, cutoff, kernel, lag in CASES:
        spec = ConleySpec(cutoff, kernel, lag, "bartlett", RADIUS)
        t0 = time.perf_counter()
        ours[label] = conley_cov(ws, lat, lon, spec, ssc=None).cov
        times[label] = time.perf_counter() - t0
    np.savez(
        path,
        xt=xt,
        u=u,
        lat=lat,
        lon=lon,
        unit=ws.unit,
        time=ws.time,
        **{f"ours_{i}": ours[c[0]] for i, c in enumerate(CASES)},
        **{f"time_{i}": times[c[0]] for i, c in enumerate(CASES)},
    )


def pd_codes(values) -> np.ndarray:
    import pandas as pd

    return pd.factorize(values)[0]


def check(path: Path) -> None:
    import diff_diff
    from diff_diff.conley import _compute_conley_vcov

    d = np.load(path)
    xt, u = d["xt"], d["u"]
    coords = np.column_stack([d["lat"], d["lon"]])
    print(f"diff-diff {diff_diff.__version__}; n = {len(u)}, k = {xt.shape[1]}")
    for i, (label, cutoff, kernel, lag) in enumerate(CASES):
        panel = {} if lag is None else {"time": d["time"], "unit": d["unit"], "lag_cutoff": lag}
        t0 = time.perf_counter()
        theirs = _compute_conley_vcov(
            xt, u, coords, cutoff, "haversine", kernel, xt.T @ xt, **panel
        )
        took = time.perf_counter() - t0
        ours = d[f"ours_{i}"]
        diff = np.abs(theirs - ours).max()
        rel = diff / np.abs(theirs).max()
        print(
            f"{label:24s} max |diff| {diff:.2e} (relative {rel:.1e}); "
            f"ours {float(d[f'time_{i}']) * 1e3:.1f} ms, diff-diff {took * 1e3:.0f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer-python", default="/tmp/peer_conley/bin/python")
    ap.add_argument("--check", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.check:
        check(args.check)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "conley_case.npz"
        dump(path)
        subprocess.run([args.peer_python, __file__, "--check", str(path)], check=True)


if __name__ == "__main__":
    main()
