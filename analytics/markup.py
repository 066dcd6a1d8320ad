"""Data never becomes markup: labels from data escaped for Plotly and HTML.

Plotly renders a subset of HTML in text, hover labels, legends and tick labels (<a href>, <b>,
<span style> ...), so a unit named `<a href="https://evil">财政局</a>` became a live link in every
chart and in the HTML report that embeds them. `plotly_safe(fig)` escapes < and > (as &lt; and
&gt;, which Plotly shows as the characters) in every string a trace carries, keeping only the plain
formatting tags (<br>, <b>, <i>, <sup>, <sub>: no link, style or event can ride on them); `charts.style` calls
it, so every chart of the product is covered. Titles and annotations are ours, but may quote data:
they are escaped too, keeping only the plain formatting tags we write (<br>, <b>, <i>, <sup>, <sub>).
`html_text` is the same rule for HTML pages (html.escape).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

# Trace properties that may hold text from data (category values, labels, hover text, legend names).
_TRACE_TEXT = ("x", "y", "z", "text", "hovertext", "name", "labels", "customdata", "legendgrouptitle")
_NESTED = {
    "node": ("label", "customdata"),
    "link": ("label", "customdata"),
    "header": ("values",),
    "cells": ("values",),
}
_ALLOWED_TAGS = re.compile(r"&lt;(/?(?:br|b|i|em|sup|sub)\s*/?)&gt;", re.IGNORECASE)


def plotly_text(value: str) -> str:
    """One label with < and > escaped for Plotly."""
    return value.replace("<", "&lt;").replace(">", "&gt;")


def html_text(value: object) -> str:
    """Any value as HTML text (nothing in it becomes a tag, an attribute or an entity)."""
    return html.escape("" if value is None else str(value), quote=True)


def _ours(value: str) -> str:
    """A title or annotation: escaped, then our plain formatting tags restored."""
    return _ALLOWED_TAGS.sub(r"<\1>", plotly_text(value))


def _escaped(value):
    if isinstance(value, str):  # links, spans and styles escaped; our line breaks in tick words (2025<br>一季度) kept
        return _ours(value) if ("<" in value or ">" in value) else value
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            return np.char.replace(np.char.replace(value, "<", "&lt;"), ">", "&gt;")
        if value.dtype.kind == "O":
            flat = [_escaped(v) for v in value.ravel().tolist()]
            return np.array(flat, dtype=object).reshape(value.shape)
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        if not any(isinstance(v, (str, list, tuple, np.ndarray)) for v in value):
            return value  # numbers, dates: nothing to escape
        return type(value)(_escaped(v) for v in value) if isinstance(value, tuple) else [_escaped(v) for v in value]
    return value


def plotly_safe(fig: go.Figure) -> go.Figure:
    """Escape markup in every text-bearing property of every trace, the axis tick texts, title and annotations."""
    for trace in fig.data:
        for prop in _TRACE_TEXT:
            if prop in trace and trace[prop] is not None and not isinstance(trace[prop], dict):
                escaped = _escaped(trace[prop])
                if escaped is not trace[prop]:
                    trace[prop] = escaped
        for parent, props in _NESTED.items():
            if parent in trace:
                for prop in props:
                    node = trace[parent]
                    if prop in node and node[prop] is not None:
                        node[prop] = _escaped(node[prop])
    layout = fig.layout
    for axis in [k for k in layout if k.startswith(("xaxis", "yaxis"))]:
        if layout[axis].ticktext is not None:
            layout[axis].ticktext = _escaped(layout[axis].ticktext)
    if layout.title and layout.title.text:
        layout.title.text = _ours(layout.title.text)
    for annotation in layout.annotations or ():
        if annotation.text:
            annotation.text = _ours(annotation.text)
    return fig
