"""Detectors behind one interface (see base.py), found by one registry.

Each module in this package that defines a module-level `DETECTOR` (or a list `DETECTORS`,
one per flag kind) is registered;
`registry()` lists them in FLAG_KINDS order and `run_detectors` runs a selection.
"""

from __future__ import annotations

import importlib
import pkgutil

import polars as pl

from analytics.dataset import AssessmentData
from analytics.detectors.base import FLAG_KINDS, FLAG_SCHEMA, Detector, empty_flags
from analytics.settings import Settings

__all__ = ["FLAG_KINDS", "FLAG_SCHEMA", "Detector", "registry", "run_detectors"]


def registry() -> list[Detector]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in {"base", "evaluate"}:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "DETECTORS", ()))
        if getattr(module, "DETECTOR", None) is not None:
            found.append(module.DETECTOR)
    order = {k: i for i, k in enumerate(FLAG_KINDS)}
    return sorted(found, key=lambda d: (order.get(d.kind, len(order)), d.name_en))


def run_detectors(
    data: AssessmentData, settings: Settings, kinds: list[str] | None = None, seed: int = 0
) -> pl.DataFrame:
    """All flags from the selected detectors (all by default), strongest first."""
    frames = [d.detect(data, settings, seed) for d in registry() if kinds is None or d.kind in kinds]
    frames = [f for f in frames if f.height]
    if not frames:
        return empty_flags()
    return pl.concat(frames, how="vertical").sort(["severity", "q_value"], descending=[True, False], nulls_last=True)
