"""Timing and peak memory of benchmark steps, each repetition in a fresh (spawned) process.

A group of steps (e.g. the lane rankings, or every detector) runs in one child process per repetition:
the child does its setup untimed (loading the dataset), then times each step with `Clock.step`. Before a
step the process's peak-RSS mark is reset (Linux /proc/self/clear_refs, "5"), so the peak recorded for a
step is the highest resident memory while that step ran, data it holds included. Where the reset is not
available the peak is the process's high-water mark so far (ru_maxrss), which can only overstate.

The parent repeats a group up to `repeats` times, stopping early once the group has used its time
budget (the slow pandas baseline runs once at province scale), and keeps every run's seconds so the
report gives the median with min and max.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing as mp
import os
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS; False where the OS does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    """Peak resident memory of this process in MB (since the last reset_peak where supported)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Used inside a child: times named steps and records each one's peak memory."""

    def __init__(self) -> None:
        self.steps: dict[str, dict] = {}

    def step(self, name: str, func, *args, rows: int | None = None, **kwargs):
        """Run func(*args, **kwargs) as step `name`; returns its result."""
        gc.collect()
        reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        out = func(*args, **kwargs)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        self.steps[name] = {"seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb(), "rows": rows}
        return out

    def add(self, name: str, parts: list[str], rows: int | None = None) -> None:
        """A step made of steps already timed (end to end = import + load + rank + quota)."""
        done = [self.steps[p] for p in parts]
        self.steps[name] = {"seconds": sum(d["seconds"] for d in done), "cpu_s": sum(d["cpu_s"] for d in done),
                            "peak_mb": max(d["peak_mb"] for d in done), "rows": rows, "parts": parts}  # fmt: skip

    def result(self, **extra) -> dict:
        return {"steps": self.steps, **extra}


@dataclass
class StepResult:
    """One step over its repetitions."""

    name: str
    group: str
    seconds: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    rows: int | None = None
    cpu_s: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_s) if self.cpu_s else float("nan")

    @property
    def peak_mb(self) -> float:
        return max(self.peaks_mb)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.median if self.rows and self.median > 0 else None

    def as_dict(self) -> dict:
        return {
            "step": self.name, "group": self.group, "median_s": round(self.median, 4),
            "min_s": round(min(self.seconds), 4), "max_s": round(max(self.seconds), 4), "repeats": len(self.seconds),
            "seconds": [round(s, 4) for s in self.seconds], "median_cpu_s": round(self.median_cpu, 4),
            "load_average": self.load, "rows": self.rows,
            "rows_per_s": round(self.rows_per_s) if self.rows_per_s else None, "peak_mb": round(self.peak_mb, 1),
        }  # fmt: skip


def _load_now() -> float | None:
    """The 1-minute load average as a run starts: other work on the machine slows the steps."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _child(target: str, kwargs: dict) -> dict:
    module, func = target.rsplit(":", 1)
    return getattr(importlib.import_module(module), func)(**kwargs)


def run_group(
    group: str, target: str, kwargs: dict, repeats: int, budget_s: float, log=print
) -> tuple[dict[str, StepResult], dict]:
    """Run `module:function(**kwargs)` up to `repeats` times, each in a new spawned process.

    The function returns Clock.result(...): {"steps": {name: {"seconds", "peak_mb", "rows"}}, ...}.
    Stops repeating once the runs so far took `budget_s` seconds (at least one run). Returns the steps
    and the extra keys of the last good run (answers to check, counts); when a run fails (an error, or
    the child killed, e.g. out of memory) the group stops and extra["error"] says why.
    """
    ctx = mp.get_context("spawn")
    steps: dict[str, StepResult] = {}
    extra: dict = {}
    started = time.perf_counter()
    for i in range(repeats):
        load = _load_now()
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                out = pool.submit(_child, target, kwargs).result()
        except Exception as exc:  # a failing step must not lose the rest of the benchmark
            reason = "the process died (out of memory?)" if isinstance(exc, BrokenProcessPool) else repr(exc)
            log(f"    {group} run {i + 1} FAILED: {reason}")
            return steps, {**extra, "error": f"{group}: {reason}"}
        for name, s in out.pop("steps").items():
            res = steps.setdefault(name, StepResult(name, group, rows=s.get("rows")))
            res.seconds.append(s["seconds"])
            res.cpu_s.append(s.get("cpu_s", float("nan")))
            res.peaks_mb.append(s["peak_mb"])
            res.load.append(load)
        extra = out
        if out.get("refused"):  # the same files would be refused again
            log(f"    {group} run {i + 1}: refused: {out['refused']}")
            break
        spent = time.perf_counter() - started
        log(f"    {group} run {i + 1}: " + ", ".join(f"{n} {s.seconds[-1]:.3g}s" for n, s in steps.items()))
        if spent >= budget_s and i + 1 < repeats:
            log(f"    {group}: {spent:.0f}s used of its {budget_s:.0f}s budget; no more repeats")
            break
    return steps, extra
