"""Logit separation is decided by a linear program, not by how far an iteration got."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.did.drdid import ipw_balance, separated


def _design(point):
    rng = np.random.default_rng(3)
    controls = rng.normal(size=(80, 2))
    X = np.column_stack([np.ones(81), np.vstack([controls, point])])
    D = np.r_[np.zeros(80), 1.0]
    return X, D


def test_one_treated_unit_outside_the_controls_hull_is_separated():
    X, D = _design([6.0, 6.0])
    assert separated(X, D)


def test_one_treated_unit_inside_the_hull_is_not():
    X, D = _design([0.1, -0.2])
    assert not separated(X, D)


def test_overlapping_groups_are_not_separated_and_noise_does_not_flip_it():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 3))
    D = (x[:, 0] + rng.normal(size=200) > 0.5).astype(float)
    X = np.column_stack([np.ones(200), x])
    assert not separated(X, D)
    assert not separated(X * (1 + 1e-13 * rng.normal(size=X.shape)), D)
    X[:, 1] = np.where(D > 0, 5.0, -5.0) + 0.01 * rng.normal(size=200)  # perfectly separating
    assert separated(X, D)


def test_balance_drops_a_separated_cohort_and_keeps_the_others():
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    cohort = pd.Series(np.r_[np.zeros(80), np.full(39, 2016), [2015]], index=x.index)
    x.iloc[-1] = [8.0, 8.0]  # the single 2015 unit lies far outside the controls
    _, kept, dropped = ipw_balance(x, cohort)
    assert kept == [2016] and dropped == [2015]
