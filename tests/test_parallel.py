"""Replications give the same numbers for a seed on every backend and any number of workers."""

from __future__ import annotations

import numpy as np
import pytest
from joblib import delayed

from analysis.parallel import Backend, as_backend, run_tasks


def _tasks(seed: int, n: int) -> list:
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)
    # a bound method of a seeded Generator pickles with its state: each task is self-contained
    return [delayed(np.random.default_rng(int(s)).standard_t)(4, size=3) for s in seeds]


def test_local_backend_is_order_preserving_and_independent_of_workers():
    one = run_tasks(_tasks(7, 40), Backend("local", n_jobs=1))
    two = run_tasks(_tasks(7, 40), Backend("local", n_jobs=2))
    np.testing.assert_array_equal(np.vstack(one), np.vstack(two))


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_dask_local_cluster_gives_the_local_numbers(workers):
    from dask.distributed import Client, LocalCluster

    local = np.vstack(run_tasks(_tasks(3, 24), Backend("local", n_jobs=2)))
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        via_address = run_tasks(_tasks(3, 24), Backend("dask", address=cluster.scheduler_address))
        via_client = run_tasks(_tasks(3, 24), Backend("dask"), client=client)
    np.testing.assert_array_equal(np.vstack(via_address), local)
    np.testing.assert_array_equal(np.vstack(via_client), local)


def test_backend_settings():
    assert as_backend(None) == Backend("local", 2)
    assert as_backend("loky").kind == "local"
    assert as_backend({"kind": "dask", "address": "tcp://h:8786", "n_jobs": 4}).address
    with pytest.raises(ValueError, match="backend must be one of"):
        Backend("spark")
