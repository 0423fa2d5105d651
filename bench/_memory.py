"""Peak memory of a process tree: a process and every process it started, sampled.

Used by ``bench/simulation.py``: each side of the benchmark runs in its own subprocess,
whose tree holds everything the side started (Ray's GCS, raylet, agents and workers are
descendants of the process that called ``ray.init``), and nothing else: a Ray instance
started by another user is not a descendant, so it is never counted.

Memory is the proportional set size (PSS, Linux): pages shared by several processes of
the tree (numpy's libraries, Ray's shared-memory object store) count once in total, not
once per process as the resident set size (RSS) would. Elsewhere, where PSS is not
available, RSS is used.
"""

from __future__ import annotations

import os
import threading
import time

import psutil

__all__ = ["PeakMemory", "tree_memory"]


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    """Bytes (PSS) and count of the live processes in ``root``'s tree.

    Parameters
    ----------
    root : psutil.Process
        The tree's root; its descendants are found anew at each call, so processes
        started or ended since the last call are accounted for.

    Returns
    -------
    bytes : int
        Sum of the processes' PSS (RSS where PSS is not available).
    processes : int
        Processes measured (those that ended, or that may not be read, are left out).
    """
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:  # the root ended
        return 0, 0
    total = count = 0
    for process in processes:
        try:
            total += _process_memory(process)
        except (psutil.Error, OSError):  # ended meanwhile, or not ours to read
            continue
        count += 1
    return total, count


def _process_memory(process: psutil.Process) -> int:
    """One process's PSS in bytes: the kernel's own sum in ``/proc/PID/smaps_rollup``
    (Linux 4.14+), else psutil's (PSS where it has it, else RSS).

    The rollup is one short read; psutil's ``memory_full_info`` parses the whole of
    ``/proc/PID/smaps`` (every mapping: ~10 ms of this process's CPU per sample, and
    the measured process's memory map locked meanwhile), which at 20 samples a second
    slowed the measured job itself by up to half on 2 cores.
    """
    try:
        with open(f"/proc/{process.pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    info = process.memory_full_info()
    return getattr(info, "pss", info.rss)


class PeakMemory:
    """Sample a process tree's memory in a background thread; keep the peak.

    Parameters
    ----------
    pid : int, optional
        The tree's root; default this process.
    interval : float, default=0.05
        Seconds between samples.

    Attributes
    ----------
    peak_bytes : int
        The largest total seen (PSS of every process in the tree at one sample).
    peak_processes : int
        Processes in the tree at that sample.
    most_processes : int
        The largest number of processes seen in one sample.
    samples : int
        Samples taken.

    Examples
    --------
    >>> import numpy as np
    >>> with PeakMemory() as peak:
    ...     block = np.ones(10_000_000)  # 80 MB
    >>> peak.peak_bytes > 80e6
    True
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05) -> None:
        self._root = psutil.Process(os.getpid() if pid is None else pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self.peak_bytes = self.peak_processes = self.most_processes = self.samples = 0

    def _sample(self) -> None:
        total, count = tree_memory(self._root)
        self.samples += 1
        self.most_processes = max(self.most_processes, count)
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, count

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self._sample()
            self._stop.wait(max(0.0, self._interval - (time.perf_counter() - started)))

    def start(self) -> PeakMemory:
        """Take a first sample now and start sampling in the background."""
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> PeakMemory:
        """Stop sampling (after one last sample, if the root still runs)."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return self

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
