"""Cross-check of ``analysis.did.spillover`` against diff-diff's ``SpilloverDiD`` (Butts rings with
Gardner's two-stage estimator; a peer package that is not a dependency: it runs in a throwaway
environment).

    python3 -m venv /tmp/peer_conley && /tmp/peer_conley/bin/pip install diff-diff
    python benchmarks/peer_spillover_diffdiff.py [--peer-python /tmp/peer_conley/bin/python]

Step 1 (project environment): the simulated panel of tests/helpers/spatial.py (direct effect 0.3,
spillover -0.2 in [0, 50) km and 0 in [50, 100) km), our estimates with ``avg_effects_by=()``
(the auxiliary model = Gardner's second stage), written to a temporary directory. Step 2 (peer
environment): ``SpilloverDiD(rings=[0, 50, 100], cluster="unit")`` on the same panel. Point
estimates must agree to rounding (both: unit + year effects fitted on the untreated, unexposed
cells; mean residual on treated cells and on exposed cells by ring); measured: equal to 3e-11
(diff-diff's iterative FE solver). Standard errors: our BJS variance with one auxiliary cell per
kind equals Gardner's GMM variance as pyfixest's did2s computes it (to 1e-6, tests/did/
test_spillover.py). diff-diff's are 0.1-0.7% smaller, by a different ratio per term, although its
documented CR1 factor ``G/(G-1) (n-1)/(n-k)`` (printed) would make them larger; the cause is not
investigated here (its GMM meat or its iterative first stage).
Ring convention: diff-diff closes the outermost ring (``d <= 100`` is exposed), ours is half-open
(``d < 100``); distances exactly at a breakpoint do not occur in this panel.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RINGS = [0.0, 50.0, 100.0]


def dump(folder: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.spatial import simulate_spillover_panel

    from analysis.did.spillover import spillover_imputation

    df = simulate_spillover_panel(np.random.default_rng(2024), spill=(-0.2, 0.0))
    df.to_csv(folder / "panel.csv", index=False)
    res = spillover_imputation(
        df, "y", "year", "unit", "cohort", "lat", "lon", RINGS, avg_effects_by=(), horizons=False
    )
    tidy = res.tidy()
    (folder / "ours.json").write_text(
        json.dumps(
            {
                "terms": tidy["term"].tolist(),
                "estimate": tidy["estimate"].tolist(),
                "se": tidy["std_error"].tolist(),
                "n": res.n_obs,
                "G": res.n_clusters,
            }
        )
    )


def check(folder: Path) -> None:
    import diff_diff
    import pandas as pd
    from diff_diff import SpilloverDiD

    df = pd.read_csv(folder / "panel.csv")
    ours = json.loads((folder / "ours.json").read_text())
    est = SpilloverDiD(rings=RINGS, conley_coords=("lat", "lon"), cluster="unit")
    res = est.fit(df, outcome="y", unit="unit", time="year", first_treat="cohort")
    theirs_b = [res.att, *res.spillover_effects["coef"].tolist()]
    theirs_se = [res.se, *res.spillover_effects["se"].tolist()]
    n, g, k = ours["n"], ours["G"], 3
    cr1 = g / (g - 1) * (n - 1) / (n - k)
    print(f"diff-diff {diff_diff.__version__}; CR1 factor G/(G-1)(n-1)/(n-k) = {cr1:.6f}")
    for term, b, se, tb, tse in zip(
        ours["terms"], ours["estimate"], ours["se"], theirs_b, theirs_se, strict=True
    ):
        print(
            f"{term:16s} ours {b: .6f} ({se:.6f})  diff-diff {tb: .6f} ({tse:.6f})  "
            f"|diff| {abs(b - tb):.1e}; SE ratio^2 {(tse / se) ** 2:.6f}"
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
        dump(Path(tmp))
        subprocess.run([args.peer_python, __file__, "--check", tmp], check=True)


if __name__ == "__main__":
    main()
