"""Where the per-dump function runs: a local pool of worker processes (the default),
a Ray cluster, or a Dask cluster. Each engine runs :func:`pycrash.triage.extract.extract`
on every task and hands each record to ``done`` as it arrives.

The local pool: at most ``workers`` processes (by default as many as the machine's
memory allows at :data:`MEMORY_PER_DUMP` a dump, and no more than its CPUs), each
handed one dump at a time, preferably of the build it read last (its debuginfo lookup
is then reused); a worker is replaced after ``max_per_worker`` dumps. A dump that
outlives ``timeout`` seconds has its worker killed and becomes an error record; a worker
that dies (a segfault, a SIGKILL) costs only its current dump, which is retried once
on a fresh worker, and is an error record if it dies again.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from pycrash.triage.extract import Task, extract

#: the memory one open dump takes (drgn's Program, DWARF index, pycrash's caches)
MEMORY_PER_DUMP = 300 << 20
Done = Callable[[Task, dict[str, Any]], None]


def available_memory() -> int:
    """Return the bytes of memory available now (MemAvailable), or 4 GiB if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def default_workers(requested: int | None) -> int:
    """Return how many dumps to open at once: ``requested``, else the CPUs, and never
    more than the available memory holds at :data:`MEMORY_PER_DUMP` each."""
    by_memory = max(1, available_memory() // MEMORY_PER_DUMP)
    return max(1, min(requested or os.cpu_count() or 1, by_memory))


def _worker(conn: Connection, max_jobs: int,
            work: Callable[[Task], dict[str, Any]] = extract) -> None:
    """A worker process: run ``work`` (:func:`extract`) on the tasks the parent sends, up
    to ``max_jobs``, then exit (the parent starts a fresh one)."""
    for _ in range(max_jobs):
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(work(task))


@dataclass
class _Slot:
    """A worker process, the task it runs (if any) and since when, what it has done."""

    proc: Any
    conn: Connection
    task: Task | None = None
    since: float = 0.0
    jobs: int = 0
    build: str | None = None
    builds: dict[str, str | None] = field(default_factory=dict)


def _died(task: Task, proc: Any, retried: bool) -> dict[str, Any]:
    """Return the error record of a dump whose worker died while reading it."""
    code = proc.exitcode
    how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    again = " twice (retried once)" if retried else ""
    return {"key": task.key, "path": None if task.redact else task.path, "size": task.size,
            "error": f"the worker reading it died{again} ({how})", "stage": "worker"}


def run_local(tasks: Sequence[Task], done: Done, workers: int, timeout: float,
              max_per_worker: int, builds: dict[str, str | None] | None = None,
              on_start: Callable[[list[int]], None] | None = None,
              work: Callable[[Task], dict[str, Any]] = extract) -> None:
    """Run every task on a local pool of worker processes (module docstring); ``builds``
    maps a task's key to its build id, to keep a build's dumps on one worker; ``work`` is
    the per-dump function (:func:`extract`; a module-level function, as workers import
    it)."""
    ctx = multiprocessing.get_context("spawn")
    builds = builds or {}
    pending: deque[Task] = deque(sorted(tasks, key=lambda t: (builds.get(t.key) or "", t.path)))
    slots: list[_Slot] = []

    def start() -> _Slot:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, max_per_worker, work), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def assign(slot: _Slot) -> None:
        if not pending:
            return
        pick = next((t for t in pending if builds.get(t.key) == slot.build), pending[0])
        pending.remove(pick)
        slot.task, slot.since, slot.build = pick, time.monotonic(), builds.get(pick.key)
        try:
            slot.conn.send(pick)
        except (BrokenPipeError, OSError):
            pass  # the worker is gone: its sentinel says so next

    def retire(slot: _Slot, kill: bool = False) -> None:
        if kill and slot.proc.is_alive():
            slot.proc.kill()
        slot.proc.join(timeout=5)
        slot.conn.close()
        slots.remove(slot)

    for _ in range(min(workers, len(pending))):
        slots.append(start())
    if on_start is not None:
        on_start([s.proc.pid for s in slots])
    for slot in slots:
        assign(slot)
    while slots:
        ready = wait([s.conn for s in slots] + [s.proc.sentinel for s in slots], timeout=0.5)
        now = time.monotonic()
        for slot in list(slots):
            if slot not in slots:
                continue
            if slot.conn in ready and slot.task is not None:
                try:
                    record = slot.conn.recv()
                except (EOFError, OSError):
                    record = None
                if record is not None:
                    task, slot.task = slot.task, None
                    slot.jobs += 1
                    done(task, record)
                    if slot.jobs >= max_per_worker:
                        retire(slot)
                        if pending:
                            slots.append(fresh := start())
                            assign(fresh)
                    else:
                        assign(slot)
                    continue
            if slot.proc.sentinel in ready or not slot.proc.is_alive():
                lost = slot.task
                retire(slot)
                if lost is not None:
                    if lost.attempt == 0:
                        pending.appendleft(replace(lost, attempt=1))
                    else:
                        done(lost, _died(lost, slot.proc, True))
                if pending:
                    slots.append(fresh := start())
                    assign(fresh)
                continue
            if slot.task is not None and now - slot.since > timeout:
                task = slot.task
                retire(slot, kill=True)
                done(task, {"key": task.key, "path": None if task.redact else task.path,
                            "size": task.size, "stage": "worker",
                            "error": f"timed out after {timeout:g} s (worker killed; "
                                     f"attempt {task.attempt + 1})"})
                if pending:
                    slots.append(fresh := start())
                    assign(fresh)
        if not pending:
            for slot in list(slots):
                if slot.task is None:
                    try:
                        slot.conn.send(None)
                    except OSError:
                        pass
                    retire(slot)


def run_ray(tasks: Sequence[Task], done: Done, workers: int, timeout: float,
            max_per_worker: int, address: str | None = None) -> None:
    """Run every task as a Ray task (``address``: a cluster; None: a local one of
    ``workers`` CPUs). Ray recycles a worker after ``max_per_worker`` calls and retries a
    task once when its worker dies; a task past ``timeout`` is cancelled (its worker
    killed) and becomes an error record."""
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, log_to_driver=False, include_dashboard=False)
    remote = ray.remote(num_cpus=1, max_calls=max_per_worker, max_retries=1,
                        retry_exceptions=False)(extract)
    queue = deque(tasks)
    running: dict[Any, tuple[Task, float]] = {}
    while queue or running:
        while queue and len(running) < workers:
            task = queue.popleft()
            running[remote.remote(task)] = (task, time.monotonic())
        ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
        for ref in ready:
            task, _since = running.pop(ref)
            try:
                done(task, ray.get(ref))
            except Exception as exc:
                done(task, {"key": task.key, "path": None if task.redact else task.path,
                            "size": task.size, "stage": "worker",
                            "error": "the worker reading it died twice (retried once): "
                                     + type(exc).__name__})
        now = time.monotonic()
        for ref, (task, since) in list(running.items()):
            if now - since > timeout:
                ray.cancel(ref, force=True)
                running.pop(ref)
                done(task, {"key": task.key, "path": None if task.redact else task.path,
                            "size": task.size, "stage": "worker",
                            "error": f"timed out after {timeout:g} s (worker killed)"})


def run_dask(tasks: Sequence[Task], done: Done, workers: int, timeout: float,
             max_per_worker: int, scheduler: str | None = None) -> None:
    """Run every task on a Dask cluster (``scheduler``: its address; None: a local
    cluster of ``workers`` single-threaded processes). A task whose worker dies is
    rescheduled by Dask; a task past ``timeout`` becomes an error record (Dask cannot
    stop a running task: its worker is restarted); each worker is restarted after
    ``max_per_worker`` tasks."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        queue = deque(tasks)
        running: dict[Any, tuple[Task, float]] = {}
        per_worker: dict[str, int] = {}
        pool = as_completed()
        while queue or running:
            while queue and len(running) < workers:
                task = queue.popleft()
                fut = client.submit(extract, task, pure=False, retries=1,
                                    key=f"triage-{task.key}-{task.path}")
                running[fut] = (task, time.monotonic())
                pool.add(fut)
            batch = pool.next_batch(block=False)
            if not batch:
                time.sleep(0.2)
            for fut in batch:
                if fut not in running:
                    continue
                task, _since = running.pop(fut)
                try:
                    record = fut.result()
                except Exception as exc:
                    record = {"key": task.key, "path": None if task.redact else task.path,
                              "size": task.size, "stage": "worker",
                              "error": f"the worker reading it failed: {type(exc).__name__}"}
                done(task, record)
                who = record.get("timing", {}).get("pid")
                if who is not None:
                    per_worker[str(who)] = per_worker.get(str(who), 0) + 1
                    if per_worker[str(who)] >= max_per_worker:
                        per_worker[str(who)] = 0
                        _restart_dask_worker(client, who)
            now = time.monotonic()
            for fut, (task, since) in list(running.items()):
                if now - since > timeout:
                    running.pop(fut)
                    fut.cancel()
                    done(task, {"key": task.key, "path": None if task.redact else task.path,
                                "size": task.size, "stage": "worker",
                                "error": f"timed out after {timeout:g} s"})
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _restart_dask_worker(client: Any, pid: int) -> None:
    """Restart the Dask worker whose process is ``pid`` (best effort)."""
    try:
        pids = client.run(os.getpid)
        addr = [a for a, p in pids.items() if p == pid]
        if addr:
            client.restart_workers(addr)
    except Exception:
        pass
