"""The demo's picture: every column of a real table beside its synthetic versions, with
the quality report's scores in the titles. Categorical columns as bars of their most
frequent values' shares, numeric columns as histograms over the real values' range.

Needs matplotlib, the ``plot`` extra (``pip install 'polars-gumbel[plot]'``); imports
:mod:`polars_gumbel.metrics` (the report, for its scores) and draws with matplotlib's
object interface, so it touches no global plotting state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from polars_gumbel.metrics import Kind, QualityReport

#: Categories drawn per column; the rest are summed into one bar.
SHOWN = 8
#: Bins of a numeric column's histogram.
BINS = 40
#: The colours of the real table and of each synthetic one, in order.
COLOURS = ("#4c4c4c", "#d95f02", "#1b9e77", "#7570b3")
MISSING_EXTRA = (
    "drawing the picture needs matplotlib, the plot extra: pip install 'polars-gumbel[plot]'"
)


def check() -> None:
    """Raises the one-line error naming the ``plot`` extra when matplotlib is missing."""
    _matplotlib()


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ModuleNotFoundError(MISSING_EXTRA) from exc
    return Figure


def _score(report: QualityReport, column: str) -> float | None:
    row = report.columns.filter(pl.col("column") == column)
    return row.get_column("score").item() if row.height else None


def _title(column: str, reports: Mapping[str, QualityReport]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.0f}%"

    scores = ", ".join(f"{name} {pct(_score(r, column))}" for name, r in reports.items())
    return f"{column}\n{scores}"


def _categorical(ax: Any, column: str, frames: Mapping[str, pl.DataFrame]) -> None:
    shares = [
        dict(df.get_column(column).cast(pl.String).value_counts(normalize=True).iter_rows())
        for df in frames.values()
    ]
    ranked = sorted(shares[0], key=lambda k: -shares[0][k])
    shown = ranked[:SHOWN]
    labels = ["(null)" if k is None else str(k).strip() for k in shown]
    rest = ranked[SHOWN:]
    if rest:
        labels.append(f"({len(rest)} more)")
    width = 0.8 / len(frames)
    x = np.arange(len(labels))
    for i, (name, share) in enumerate(zip(frames, shares)):
        heights = [share.get(k, 0.0) for k in shown]
        if rest:
            heights.append(sum(v for k, v in share.items() if k not in shown))
        ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=name, color=COLOURS[i])
    ax.set_xticks(x, [label[:14] for label in labels], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("share of rows", fontsize=7)


def _numeric(ax: Any, column: str, frames: Mapping[str, pl.DataFrame]) -> None:
    values = [
        df.get_column(column).drop_nulls().cast(pl.Float64).to_numpy() for df in frames.values()
    ]
    real = values[0][np.isfinite(values[0])]
    if real.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    lo, hi = np.quantile(real, [0.005, 0.995])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    for i, (name, v) in enumerate(zip(frames, values)):
        inside = v[(v >= lo) & (v <= hi)]
        weights = np.full(inside.size, 1.0 / max(v.size, 1))
        ax.hist(
            inside,
            bins=edges,
            weights=weights,
            histtype="step" if i else "stepfilled",
            alpha=0.35 if i == 0 else 1.0,
            linewidth=1.4,
            label=name,
            color=COLOURS[i],
        )
    ax.set_ylabel("share of rows", fontsize=7)
    ax.tick_params(labelsize=7)


def comparison(
    path: str | Path,
    frames: Mapping[str, pl.DataFrame],
    kinds: Mapping[str, Kind],
    reports: Mapping[str, QualityReport],
) -> Path:
    """Draws every column of ``kinds`` in ``frames`` (the real table first, then each
    synthetic one) to the PNG at ``path``; each synthetic table's quality report gives
    the column's score in its title and the overall scores in the heading. Returns the
    path."""
    figure_class = _matplotlib()
    columns = list(kinds)
    across = 4
    down = max(1, math.ceil(len(columns) / across))
    figure = figure_class(figsize=(4.2 * across, 3.3 * down + 0.8), layout="constrained")
    axes = figure.subplots(down, across, squeeze=False).ravel()
    for ax, column in zip(axes, columns):
        if kinds[column] == "categorical":
            _categorical(ax, column, frames)
        else:
            _numeric(ax, column, frames)
        ax.set_title(_title(column, reports), fontsize=9)
    for ax in axes[len(columns) :]:
        ax.set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(frames), fontsize=9)
    overall = "; ".join(
        f"{name}: overall {100 * (r.score or 0):.1f}%, column shapes "
        f"{100 * (r.column_shapes or 0):.1f}%, pair trends {100 * (r.column_pair_trends or 0):.1f}%"
        for name, r in reports.items()
    )
    figure.suptitle(f"Real against synthetic, column by column\n{overall}", fontsize=11)
    out = Path(path)
    figure.savefig(out, dpi=90)
    return out
