"""Timing and memory of one benchmark step, each repetition in a fresh process.

A fresh (spawned) process per repetition means no warm caches leak between runs and the
process's peak resident memory (ru_maxrss) belongs to that step alone. The step function
times its own core work, so setup (reading inputs, imports) is not counted.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import statistics
from dataclasses import dataclass, field


@dataclass
class StepResult:
    name: str
    seconds: list[float]
    peak_mb: float
    rows: int = 0
    info: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.median if self.rows and self.median > 0 else None

    def as_dict(self) -> dict:
        return {
            "step": self.name, "median_s": round(self.median, 4), "min_s": round(min(self.seconds), 4),
            "max_s": round(max(self.seconds), 4), "repeats": len(self.seconds), "rows": self.rows,
            "rows_per_s": round(self.rows_per_s) if self.rows_per_s else None, "peak_mb": round(self.peak_mb, 1),
            **self.info,
        }


def _child(target: str, kwargs: dict) -> dict:
    module, func = target.rsplit(":", 1)
    out = getattr(importlib.import_module(module), func)(**kwargs)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_step(name: str, target: str, kwargs: dict, repeats: int) -> StepResult:
    """Run `module:function(**kwargs)` `repeats` times, each in a new process.

    The function returns {"seconds": float, "rows": int, ...}; extra keys are kept from the last run.
    """
    ctx = mp.get_context("spawn")
    seconds, peaks, last = [], [], {}
    for _ in range(repeats):
        with ctx.Pool(1) as pool:
            last = pool.apply(_child, (target, kwargs))
        seconds.append(last.pop("seconds"))
        peaks.append(last.pop("peak_mb"))
    rows = int(last.pop("rows", 0))
    return StepResult(name, seconds, max(peaks), rows, last)
