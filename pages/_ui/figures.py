"""Plotly figures built once per content and shared by every session of the process.

Building a figure is mostly Plotly's own property validation (tens of milliseconds for a bar chart), and
a busy morning's sessions ask for the same few: twenty inspectors opening the overview draw the same
grade mix. A figure is keyed by its builder and its arguments' content (a frame by its schema and rows),
so new data, another language or another height build a new one; Streamlit only reads a figure it is given.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import polars as pl

MAX_FIGURES = 256
_FIGURES: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()


class _Unkeyable(Exception):
    """An argument whose content cannot be keyed: the figure is built every time."""


def _key(value: Any) -> Any:
    if isinstance(value, pl.DataFrame):
        try:  # rows in order: the same rows in another order draw other bars
            rows = value.hash_rows().to_numpy().tobytes()
        except Exception as exc:  # a column Polars cannot hash (objects)
            raise _Unkeyable from exc
        return ("frame", tuple((name, str(dtype)) for name, dtype in value.schema.items()), value.height, rows)
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_key(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(v) for v in value)))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _key(v)) for k, v in value.items())))
    try:
        hash(value)
    except TypeError as exc:
        raise _Unkeyable from exc
    return value


def figure(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """build(*args, **kwargs), once per content of the arguments (treat the figure as read-only)."""
    try:
        key = (build.__module__, build.__qualname__, _key(args), _key(kwargs))
    except _Unkeyable:
        return build(*args, **kwargs)
    with _LOCK:
        if key in _FIGURES:
            _FIGURES.move_to_end(key)
            return _FIGURES[key]
    made = build(*args, **kwargs)
    with _LOCK:
        _FIGURES[key] = made
        while len(_FIGURES) > MAX_FIGURES:
            _FIGURES.popitem(last=False)
    return made
