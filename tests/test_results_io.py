"""Results are written rounded to significant digits, figures drawn from rounded values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analysis import results_io


def test_round_significant_is_decimal_rounding():
    assert results_io.round_significant(0.123456789, 4) == 0.1235
    assert results_io.round_significant(-1234567.891, 3) == -1230000.0
    assert results_io.round_significant(0.0) == 0.0
    assert str(results_io.round_significant(-1e-300, 2)) == "-1e-300"
    assert np.isnan(results_io.round_significant(float("nan")))


def test_last_bit_noise_does_not_change_written_results(tmp_path):
    """The point of the rule: values that differ in the last bits (another CPU) write the same
    bytes unless they straddle a rounding boundary."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=2000) * 10.0 ** rng.integers(-6, 6, size=2000)
    noisy = values * (1 + rng.uniform(-1e-13, 1e-13, size=2000))
    a = results_io.write_json(tmp_path / "a.json", {"v": values.tolist()}).read_bytes()
    b = results_io.write_json(tmp_path / "b.json", {"v": noisy.tolist()}).read_bytes()
    assert a == b
    written = json.loads(a)["v"]
    assert max(abs(w / v - 1) for w, v in zip(written, values, strict=True)) < 5e-7


def test_round_for_plotting_rounds_floats_only():
    frame = pd.DataFrame({"x": [1, 2], "y": [0.123456, 12345.678], "s": ["a", "b"]})
    out = results_io.round_for_plotting(((frame, {"t": 0.987654321}), [np.array([1.23456789])]))
    (f, d), (arr,) = out
    assert f["y"].tolist() == [0.1235, 12350.0] and f["x"].tolist() == [1, 2]
    assert f["s"].tolist() == ["a", "b"] and d["t"] == 0.9877 and arr[0] == 1.235
    assert frame["y"].iloc[0] == 0.123456, "the caller's frame is not modified"
