"""One way to run many independent replications (Monte Carlo, randomization draws, specification
curves, power curves): local processes or a Dask cluster, chosen by one setting.

``run_tasks(tasks, backend)`` takes joblib ``delayed`` calls and returns their results in the
order given, whatever the backend and the number of workers: every task carries its own seed
(the callers derive one per replication from the run's seed), so the numbers cannot depend on
which worker ran which task or when. Backends (``Backend.kind``):

* ``local`` (default): joblib's loky processes on this machine, ``n_jobs`` of them;
* ``dask``: a ``dask.distributed`` cluster: the scheduler at ``address`` (a cluster started by
  ``dask-jobqueue`` on Slurm/PBS, by ``dask-kubernetes``, or ``dask scheduler`` by hand: see the
  README, "Simulations on a cluster"; without ``address``: the ``DASK_SCHEDULER_ADDRESS``
  environment variable), or else a client already running in this process, else a temporary
  ``LocalCluster`` of ``n_jobs`` single-threaded worker processes.

Why joblib's Dask backend and not ``client.map``: one code path for both backends (joblib
batches small tasks and preserves order), and the same ``delayed`` tasks run on either.
Progress: a tqdm bar over completed tasks in both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

from joblib import Parallel, parallel_config
from tqdm.auto import tqdm

BACKENDS = ("local", "dask")


@dataclass(frozen=True)
class Backend:
    kind: str = "local"
    n_jobs: int = 2
    address: str | None = None  # dask scheduler, e.g. tcp://10.0.0.5:8786

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.kind!r}")


def as_backend(value, n_jobs: int | None = None) -> Backend:
    """A Backend from a Backend, a mapping (params.yaml ``parallel``: ``backend`` or ``kind``,
    ``address``, ``n_jobs``) or a name (``"local"``, ``"dask"``; ``"loky"`` is the old name of
    ``"local"``); ``n_jobs``, when given, replaces its number of workers (the callers' own
    ``n_jobs`` parameter)."""
    if isinstance(value, Backend):
        out = value
    elif value is None:
        out = Backend()
    elif isinstance(value, str):
        out = Backend(kind="local" if value == "loky" else value)
    else:
        kind = value.get("backend", value.get("kind", "local"))
        out = Backend(
            kind="local" if kind == "loky" else kind,
            n_jobs=int(value.get("n_jobs") or 2),
            address=value.get("address"),
        )
    return out if n_jobs is None else replace(out, n_jobs=int(n_jobs))


@contextlib.contextmanager
def _dask_client(backend: Backend, client=None) -> Iterator[object]:
    import dask
    from dask.distributed import Client, LocalCluster, get_client

    if client is not None:
        yield client
        return
    # dask reads DASK_SCHEDULER_ADDRESS into its "scheduler-address" setting (get_client does not)
    address = backend.address or dask.config.get("scheduler-address", None)
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    try:
        yield get_client()
        return
    except ValueError:  # no client running: a temporary local cluster
        pass
    cluster = LocalCluster(
        n_workers=max(1, backend.n_jobs),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_tasks(
    tasks: list, backend=None, *, progress: bool = False, desc: str = "tasks", client=None
) -> list:
    """Results of the joblib ``delayed`` ``tasks``, in order, on ``backend`` (see the module
    docstring); ``client``: an existing ``dask.distributed.Client`` for the dask backend."""
    backend = as_backend(backend)

    def run(n_jobs: int) -> list:
        out = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        return list(tqdm(out, total=len(tasks), disable=not progress, desc=desc))

    if backend.kind == "local":
        if backend.n_jobs == 1:
            with parallel_config(backend="sequential"):
                return run(1)
        with parallel_config(backend="loky"):
            return run(backend.n_jobs)
    with (
        _dask_client(backend, client),
        parallel_config(backend="dask", wait_for_workers_timeout=60),
    ):
        return run(-1)
