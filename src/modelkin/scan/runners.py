"""Where the per-model work runs: in process, on a spawned process pool, or on Ray.

Every runner has the same small surface: :meth:`~Runner.submit` a task (a path, never
weights), :meth:`~Runner.wait` for at least one result, and at most :attr:`~Runner.slots`
tasks in flight (the driver's backpressure: a million-model list never becomes a million
queued futures or Ray objects). A task whose worker dies comes back as a failed result,
like a model that failed to read, so the driver's retry-once policy covers both.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Protocol

from modelkin.errors import ModelkinError
from modelkin.scan.work import scan_one

#: Object store of a local Ray cluster started for one scan: results are a few MB each.
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class Task:
    """One attempt at one model."""

    key: str
    path: str
    attempt: int = 1


Result = dict[str, Any]


def _failure(task: Task, error: str) -> Result:
    return {"ok": False, "error": f"{task.path}: {error}", "seconds": 0.0, "peak_rss": 0}


class Runner(Protocol):
    """The interface :func:`modelkin.scan.scan_collection` drives."""

    slots: int

    def start(self) -> None: ...
    def submit(self, task: Task) -> None: ...
    def in_flight(self) -> int: ...
    def wait(self) -> list[tuple[Task, Result]]: ...
    def close(self, cancel: bool = False) -> None: ...
    def describe(self) -> dict[str, Any]: ...


class SerialRunner:
    """Runs each task in the calling process when waited for (no parallelism)."""

    def __init__(self, mode: str = "fast", seed: int = 0) -> None:
        self.mode, self.seed = mode, seed
        self.slots = 1
        self._queue: list[Task] = []

    def start(self) -> None:
        return None

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def in_flight(self) -> int:
        return len(self._queue)

    def wait(self) -> list[tuple[Task, Result]]:
        task = self._queue.pop(0)
        return [(task, scan_one(task.path, self.mode, self.seed))]

    def close(self, cancel: bool = False) -> None:
        self._queue.clear()

    def describe(self) -> dict[str, Any]:
        return {"runner": "serial", "workers": 1, "startup_seconds": 0.0}


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the driver, which cancels them in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm_up(_: int) -> int:
    import modelkin.fingerprint  # noqa: F401

    return os.getpid()


class PoolRunner:
    """A pool of ``workers`` spawned processes (spawn, not fork: no inherited threads or
    locks from the driver). Two tasks per worker are in flight so none idles between
    results."""

    def __init__(self, workers: int, mode: str = "fast", seed: int = 0) -> None:
        if workers < 1:
            raise ModelkinError("--workers", "must be at least 1")
        self.workers, self.mode, self.seed = workers, mode, seed
        self.slots = 2 * workers
        self._pool: cf.ProcessPoolExecutor | None = None
        self._futures: dict[cf.Future[Result], Task] = {}
        self._startup = 0.0

    def start(self) -> None:
        t0 = time.perf_counter()
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_ignore_sigint,
        )
        # Spawn the workers and import the fingerprinter now, so start-up is measured
        # as start-up (like a Ray cluster's) rather than hidden in the first results.
        list(self._pool.map(_warm_up, range(self.workers)))
        self._startup = time.perf_counter() - t0

    def submit(self, task: Task) -> None:
        if self._pool is None:
            raise ModelkinError("scan", "runner not started")
        fut = self._pool.submit(scan_one, task.path, self.mode, self.seed)
        self._futures[fut] = task

    def in_flight(self) -> int:
        return len(self._futures)

    def wait(self) -> list[tuple[Task, Result]]:
        done, _ = cf.wait(list(self._futures), return_when=cf.FIRST_COMPLETED)
        out: list[tuple[Task, Result]] = []
        broken = False
        for fut in done:
            task = self._futures.pop(fut)
            try:
                out.append((task, fut.result()))
            except cf.process.BrokenProcessPool:
                broken = True
                out.append((task, _failure(task, "worker process died (out of memory?)")))
            except Exception as exc:  # an error that could not travel back intact
                out.append((task, _failure(task, f"{type(exc).__name__}: {exc}")))
        if broken:  # every other task of a broken pool is lost: fail them, start afresh
            for task in self._futures.values():
                out.append((task, _failure(task, "worker pool broke while this ran")))
            self._futures.clear()
            self.close()
            self.start()
        return out

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down; with ``cancel`` (Ctrl-C), stop running tasks at once instead
        of waiting for them (their results would not be journaled anyway)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            if cancel:
                # The executor has no public way to stop running work; its worker
                # processes are terminated, which is what Ctrl-C means here.
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in processes:
                    proc.terminate()
            else:
                pool.shutdown(wait=True)
        self._futures.clear()

    def describe(self) -> dict[str, Any]:
        return {"runner": "processes", "workers": self.workers, "startup_seconds": self._startup}


class RayRunner:
    """Ray tasks (``num_cpus=1`` each) on a local cluster started for the scan, or on an
    existing cluster at ``address`` (``auto``, ``host:6379`` or ``ray://host:10001``).

    A local cluster is started once with ``workers`` CPUs, no dashboard, a small object
    store and its logs in a temporary directory, and is shut down by :meth:`close`. On a
    cluster, twice its CPU count are kept in flight and results are streamed back with
    ``ray.wait`` as they finish."""

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        mode: str = "fast",
        seed: int = 0,
    ) -> None:
        if address is None and (workers is None or workers < 1):
            raise ModelkinError("--workers", "a local Ray cluster needs at least 1 worker")
        self.workers, self.address, self.mode, self.seed = workers, address, mode, seed
        self.slots = 2 * (workers or 1)
        self._refs: dict[Any, Task] = {}
        self._remote: Any = None
        self._ray: Any = None
        self._tmp: str | None = None
        self._startup = 0.0
        self._cpus = 0

    def start(self) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        t0 = time.perf_counter()
        try:
            import ray
        except ImportError as exc:
            raise ModelkinError(
                "--ray", f"Ray is not installed ({exc}): pip install 'modelkin[ray]'"
            ) from None
        self._ray = ray
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        try:
            if self.address is None:
                self._tmp = tempfile.mkdtemp(prefix="mkray-")
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                    _temp_dir=self._tmp,
                    **common,
                )
            else:
                ray.init(address=self.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            self._cleanup()
            where = self.address or "local Ray"
            raise ModelkinError(where, f"cannot start or join the Ray cluster: {exc}") from None
        self._cpus = int(ray.cluster_resources().get("CPU", 0))
        if self.address is not None:
            self.slots = 2 * max(1, self.workers or self._cpus)
        # max_retries=0: a crashed task comes back as a failure and the driver's own
        # retry-once policy decides, the same way for every runner.
        self._remote = ray.remote(num_cpus=1, max_retries=0)(scan_one)
        self._startup = time.perf_counter() - t0

    def submit(self, task: Task) -> None:
        if self._remote is None:
            raise ModelkinError("scan", "runner not started")
        self._refs[self._remote.remote(task.path, self.mode, self.seed)] = task

    def in_flight(self) -> int:
        return len(self._refs)

    def wait(self) -> list[tuple[Task, Result]]:
        ray = self._ray
        ready, _ = ray.wait(list(self._refs), num_returns=1)
        out: list[tuple[Task, Result]] = []
        for ref in ready:
            task = self._refs.pop(ref)
            try:
                out.append((task, ray.get(ref)))
            except Exception as exc:  # RayTaskError, WorkerCrashedError, node loss
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                out.append((task, _failure(task, f"Ray task failed: {type(exc).__name__} {first}")))
        return out

    def close(self, cancel: bool = False) -> None:
        if self._ray is not None and cancel:
            for ref in list(self._refs):
                with contextlib.suppress(Exception):  # finished, or its worker is gone
                    self._ray.cancel(ref, force=True)
        self._refs.clear()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._ray is not None and self._ray.is_initialized():
            self._ray.shutdown()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def describe(self) -> dict[str, Any]:
        return {
            "runner": "ray",
            "address": self.address or "local",
            "workers": self.workers or self._cpus,
            "cluster_cpus": self._cpus,
            "startup_seconds": self._startup,
        }
