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


# --- every simulation tool: the same numbers on a LocalCluster of 1, 2 and 4 workers ------------
def _power_draws(backend):
    """The power study's replication loop (analysis.did.power.simulate_draws) on a 2x2 design."""
    from analysis.did.power import UntreatedModel, simulate_draws

    n = 40
    unit, period = np.repeat(np.arange(n), 2), np.tile([0, 1], n)
    D = ((np.arange(n) < n // 2)[unit] & (period == 1)).astype(float)
    model = UntreatedModel(0.0, 1.0, 1.0, 0.3, 0.2, np.zeros(2), {}, unit, period,
                           unit % 4, np.zeros(2 * n))  # fmt: skip
    fns = {"twfe": _TwfeFn(D, unit, period)}
    draws = simulate_draws(model, fns, {"c": D}, 12, seed=4, chunk=3, backend=backend)
    return np.column_stack([draws["twfe", "c"].att0, draws["twfe", "c"].cross])


class _TwfeFn:
    """Picklable ``fn(Y) -> (att, se)`` (a lambda does not travel to a Dask worker by value)."""

    def __init__(self, D, unit, period):
        self.D, self.unit, self.period = D, unit, period

    def __call__(self, Y):
        from analysis.did.power import twfe_many

        return twfe_many(Y, self.D, self.unit, self.period)


def _permutation_draws(backend):
    """Randomization inference's draws (analysis.did.randomization.permutation_test)."""
    import pandas as pd

    from analysis.did.randomization import permutation_test

    rng = np.random.default_rng(5)
    units, years = 30, 6
    cohort = np.repeat(rng.choice([0, 3, 4], size=units), years)
    year = np.tile(np.arange(1, years + 1), units)
    df = pd.DataFrame({"unit": np.repeat(np.arange(units), years), "year": year,
                       "cohort": cohort, "y": rng.standard_normal(units * years)})  # fmt: skip
    res = permutation_test(df, _MeanGap(), "unit", "cohort", draws=24, seed=3, chunk_size=5,
                           backend=backend, progress=False)  # fmt: skip
    return res.draws


class _MeanGap:
    """A cheap deterministic statistic: treated minus untreated mean outcome, and a scale."""

    def __call__(self, data):
        treated = (data["cohort"] > 0) & (data["year"] >= data["cohort"])
        gap = data.loc[treated, "y"].mean() - data.loc[~treated, "y"].mean()
        return float(gap), float(data["y"].std())


def _monte_carlo_rows(backend):
    """The Monte Carlo loop (analysis.studies.simulation.simulate), TWFE on a 40-city panel."""
    from analysis.data.build import default_inputs
    from analysis.data.synthetic import SyntheticDesign
    from analysis.studies.simulation import PIPELINE, simulate

    rows = simulate({"d": SyntheticDesign(n_cities=40)}, default_inputs(),
                    {"twfe": PIPELINE["twfe"]}, n_reps=3, seed=2, progress=False,
                    backend=backend)  # fmt: skip
    return rows[["estimate", "std_error"]].to_numpy()


def _spillover_rows(backend):
    """The spillover Monte Carlo (analysis.studies.spillover, the robustness stage's), 2 panels."""
    from analysis.data.build import default_inputs
    from analysis.data.synthetic import SyntheticDesign
    from analysis.studies.spillover import spillover_monte_carlo

    draws = spillover_monte_carlo(default_inputs(), SyntheticDesign(n_cities=120), n_reps=2,
                                  seed=3, backend=backend)  # fmt: skip
    return draws.drop(columns=[c for c in draws if draws[c].dtype == object]).to_numpy(float)


TOOLS = {
    "power": _power_draws,
    "permutation": _permutation_draws,
    "monte_carlo": _monte_carlo_rows,
    "spillover_monte_carlo": _spillover_rows,
}


@pytest.fixture(scope="module")
def local_numbers():
    return {name: tool(Backend("local", n_jobs=2)) for name, tool in TOOLS.items()}


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_every_simulation_tool_gives_the_local_numbers_on_dask(workers, local_numbers):
    """The power draws, the randomization draws and the Monte Carlo rows: identical (not close)
    on a LocalCluster of 1, 2 and 4 workers, by scheduler address, and sequentially."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:  # fmt: skip
        backend = {"backend": "dask", "address": cluster.scheduler_address}
        for name, tool in TOOLS.items():
            np.testing.assert_array_equal(tool(backend), local_numbers[name], err_msg=name)
    for name, tool in TOOLS.items():
        np.testing.assert_array_equal(tool(Backend("local", n_jobs=1)), local_numbers[name])


def test_params_backend_setting_and_scheduler_address_from_the_environment(monkeypatch):
    """params.yaml ``parallel`` maps to a Backend; a caller's n_jobs replaces the workers; dask
    reads DASK_SCHEDULER_ADDRESS into its scheduler-address setting, which the dask backend uses
    when params.yaml names none."""
    import dask

    b = as_backend({"backend": "dask", "address": None}, n_jobs=3)
    assert b == Backend("dask", n_jobs=3, address=None)
    assert as_backend(None, n_jobs=1) == Backend("local", n_jobs=1)
    with dask.config.set(
        {"scheduler-address": "tcp://127.0.0.1:1", "distributed.comm.timeouts.connect": "1s"}
    ):
        from analysis import parallel

        # nothing listens there: the connection error shows it tried the address
        with pytest.raises(OSError), parallel._dask_client(Backend("dask")):
            pass


def test_every_notebook_with_replications_reads_the_one_backend_setting():
    """params.yaml ``parallel`` reaches each notebook that runs replication loops (injected as
    ``backend``), its DVC stage depends on it, and no section has a backend setting of its own."""
    import dataclasses

    import yaml

    from analysis import config

    loops = {"simulation", "design", "robustness", "pilot_zones", "rail_links"}
    cfg = config.load_config()
    stages = yaml.safe_load((config.ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name in loops:
        assert config.notebook_parameters(name, cfg)["backend"] == {
            "backend": "local", "address": None
        }, name  # fmt: skip
        assert "parallel" in [p.split("#")[0].strip() for p in stages[name]["params"]], name

    def backend_fields(cls, path):
        for f in dataclasses.fields(cls):
            if f.name == "backend" and cls is not config.ParallelConfig:
                yield f"{path}.{f.name}"
            if dataclasses.is_dataclass(f.type) or isinstance(f.default_factory, type):
                sub = f.default_factory if isinstance(f.default_factory, type) else f.type
                if dataclasses.is_dataclass(sub):
                    yield from backend_fields(sub, f"{path}.{f.name}")

    assert list(backend_fields(config.Config, "params")) == []
