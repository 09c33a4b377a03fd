"""The demo: the bundled Adult census table (9 categorical and 6 numeric columns) through
fit, encode, generator-like logits, and decoding by argmax and by Gumbel sampling, each
judged by the quality report of :mod:`polars_gumbel.metrics` and, with ``plot``, drawn
by :mod:`polars_gumbel.plot`."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from polars_gumbel import metrics
from polars_gumbel.codec import Codec
from polars_gumbel.data import ADULT

T = TypeVar("T")
SHOWN = 6  # categories shown per column; the rest are summed into one line
QUANTILES = (0.05, 0.5, 0.95)  # shown per numeric column
WIDTH = 88  # of the prose lines
#: The numeric scalars' noise, as a fraction of the logits' (`noise`). Small: a mode's
#: scalar counts in 4 of its standard deviations, and a spike that a wide mode holds
#: (capital-gain's zeros, in a mode of standard deviation 43) decodes as a spike only
#: while its scalar stays within ~0.003 of its value.
SCALAR_NOISE = 0.002


def _timed(timings: dict[str, float], label: str, f: Callable[[], T]) -> T:
    start = time.perf_counter()
    out = f()
    timings[label] = time.perf_counter() - start
    return out


def frequencies(column: pl.Series) -> dict[Any, float]:
    """Each value's share of the rows, nulls included."""
    counts = column.value_counts(sort=True)
    total = len(column)
    return {v: n / total for v, n in counts.iter_rows()}


def numeric_columns(codec: Codec) -> list[str]:
    """The codec's numeric columns, in order: those with a span that is not a softmax
    (every numeric column has its scalar, tanh or linear)."""
    numeric = {s.column for s in codec.spans if s.activation != "softmax"}
    return [c for c in codec.columns if c in numeric]


def generator_logits(
    codec: Codec, real: pl.DataFrame, rows: int, noise: float, seed: int
) -> pl.DataFrame:
    """What a generator might emit: one Float32 column per feature, in ``feature_names``
    order.

    - Each block a softmax reads (a categorical column's, a numeric column's modes):
      the log of its features' real frequencies, plus independent Gaussian noise of
      standard deviation `noise` on every cell, whatever the row; a generator that has
      learnt each column's frequencies, and nothing of the rows.
    - Each numeric scalar and null indicator: the encoded value of a real row drawn at
      random (the same row for every numeric column), plus Gaussian noise of standard
      deviation ``SCALAR_NOISE * noise``: what comes out of a generator's tanh (sigmoid),
      as `decode` reads it. The mode block and the scalar are drawn apart, as a
      generator that knows each column's modes but not which one a row's scalar is in.

    `real` holds every codec column. The real frequencies and scalars are those of its
    encoding, its modes drawn with `seed`.
    """
    rng = np.random.default_rng(seed)
    encoded = codec.encode(real.select(codec.columns), layout="matrix", seed=seed)
    matrix = encoded["features"].to_numpy()
    # A block's share of the rows; a block that is null in a row (a null the codec has
    # no field for) counts in none of its fields.
    share = np.nan_to_num(np.nanmean(matrix, axis=0)) if matrix.size else np.zeros(codec.width)
    picked = rng.integers(0, real.height, rows) if real.height else np.zeros(rows, int)
    out = np.empty((rows, codec.width), dtype=np.float32)
    for span in codec.spans:
        a, b = span.start, span.stop
        if span.activation == "softmax":
            log_p = np.log(np.maximum(share[a:b], 1e-12))
            out[:, a:b] = log_p + noise * rng.standard_normal((rows, b - a))
        else:
            scalar = matrix[picked, a:b] if real.height else np.zeros((rows, b - a))
            out[:, a:b] = scalar + SCALAR_NOISE * noise * rng.standard_normal((rows, b - a))
    return pl.DataFrame([pl.Series(name, out[:, j]) for j, name in enumerate(codec.feature_names)])


def _say(text: str) -> None:
    """Prints prose wrapped to the width of the tables."""
    print(textwrap.fill(text, WIDTH, break_on_hyphens=False))


def _number(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:,.1f}"


def _modes(codec: Codec, name: str) -> int:
    """The number of modes of a numeric column (0 but for ``"mode"``)."""
    return sum(
        s.stop - s.start for s in codec.spans if s.column == name and s.activation == "softmax"
    )


def _distance(report: metrics.QualityReport, column: str) -> float:
    """1 - the column's shape score: its TVD or KS distance to the real column."""
    score = report.columns.filter(pl.col("column") == column).get_column("score").item()
    return float("nan") if score is None else 1.0 - score


def _numeric_summary(
    codec: Codec, name: str, frames: list[pl.DataFrame], reports: list[metrics.QualityReport]
) -> tuple[float, float]:
    """Prints a numeric column's mean and quantiles, real, argmax and sampled; returns
    the KS distances of the argmax and of the sampled values to the real ones, from the
    two quality reports."""
    modes = _modes(codec, name)
    scalar = next(s for s in codec.spans if s.column == name and s.activation != "softmax")
    kind = f"{modes} modes" if modes else "z-score" if scalar.activation == "linear" else "min-max"
    values = [df[name].drop_nulls().cast(pl.Float64).to_numpy() for df in frames]

    def stat(f: Callable[[npt.NDArray[np.float64]], Any]) -> list[float]:
        return [float(f(v)) if v.size else float("nan") for v in values]

    lines = [("mean", stat(np.mean))]
    lines += [(f"{q:.0%} quantile", stat(partial(np.quantile, q=q))) for q in QUANTILES]
    if any(df[name].null_count() for df in frames):
        lines.append(("null %", [100 * df[name].null_count() / max(df.height, 1) for df in frames]))
    print(f"\n{name} ({kind})".ljust(32) + f"{'real':>12}{'argmax':>12}{'sampled':>12}")
    for label, (r, a, s) in lines:
        print(f"  {label:<30}{_number(r):>12}{_number(a):>12}{_number(s):>12}")
    ks_a, ks_s = (_distance(r, name) for r in reports)
    print(f"  {'KS distance to real':<30}{'':>12}{ks_a:>12.3f}{ks_s:>12.3f}")
    return ks_a, ks_s


def _categorical_summary(
    name: str, frames: list[pl.DataFrame], reports: list[metrics.QualityReport]
) -> tuple[int, float, float]:
    """Prints a categorical column's frequencies, real, argmax and sampled; returns its
    number of categories and the TVDs of the argmax and of the sampled labels, from the
    two quality reports."""
    p, a, s = (frequencies(df[name]) for df in frames)
    print(f"\n{name} ({len(p)} categories)".ljust(38) + f"{'real':>8}{'argmax':>9}{'sampled':>9}")
    ranked = sorted(p, key=lambda k: -p[k])
    for k in ranked[:SHOWN]:
        label = repr(k) if k is None else str(k)
        print(f"  {label[:34]:<34}{p[k]:>8.1%}{a.get(k, 0):>9.1%}{s.get(k, 0):>9.1%}")
    if len(ranked) > SHOWN:
        rest = ranked[SHOWN:]
        print(
            f"  {f'({len(rest)} more)':<34}{sum(p[k] for k in rest):>8.1%}"
            f"{sum(a.get(k, 0) for k in rest):>9.1%}{sum(s.get(k, 0) for k in rest):>9.1%}"
        )
    return len(p), _distance(reports[0], name), _distance(reports[1], name)


def _distances(title: str, header: str, lines: list[tuple[str, int, float, float]]) -> None:
    print()
    _say(title)
    print(f"  {'column':<18}{header:>6}{'argmax':>9}{'sampled':>9}")
    for name, k, da, ds in lines:
        print(f"  {name:<18}{k:>6}{da:>9.3f}{ds:>9.3f}")
    mean_a = sum(r[2] for r in lines) / len(lines)
    mean_s = sum(r[3] for r in lines) / len(lines)
    print(f"  {'mean':<24}{mean_a:>9.3f}{mean_s:>9.3f}")


def run(
    rows: int | None = None, seed: int = 0, noise: float = 0.5, plot: str | None = None
) -> None:
    """Runs the demo; with ``plot``, also draws every column, real against argmax and
    sampled, to that PNG file."""
    if plot is not None:
        from polars_gumbel import plot as drawing

        drawing.check()
    timings: dict[str, float] = {}
    real = pl.read_parquet(ADULT)
    rows = rows or real.height
    _say(
        f"Adult census table: {real.height:,} rows, {real.width} columns ({ADULT.name}, CC BY 4.0)"
    )

    codec = _timed(timings, "fit", lambda: Codec.fit(pl.scan_parquet(ADULT), seed=seed))
    numeric = numeric_columns(codec)
    categorical = [c for c in codec.columns if c not in numeric]
    spans = codec.spans
    one_hot = sum(s.stop - s.start for s in spans if s.column in categorical)
    modes = sum(_modes(codec, c) for c in numeric)
    _say(
        f"codec: {len(categorical)} categorical columns -> {one_hot} one-hot features; "
        f"{len(numeric)} numeric columns -> {len(numeric)} scalars and {modes} mode "
        "indicators (CTGAN's mode-specific normalisation: a Gaussian mixture per column); "
        f"{codec.width} features in all"
    )
    plan = codec.encode(pl.scan_parquet(ADULT), seed=seed)
    schema = plan.collect_schema()
    _say(
        f"output schema known before reading any data: {len(schema)} columns, "
        f"e.g. {', '.join(f'{n}: {d}' for n, d in list(schema.items())[:3])}"
    )
    encoded = _timed(timings, "encode", plan.collect)
    assert encoded.height == real.height

    print()
    _say(
        f"generator-like logits for {rows:,} rows (a stand-in for a trained generator): "
        f"log(real frequency) + N(0, {noise}^2) noise on every cell of each categorical "
        "and mode block; each numeric scalar a random real row's, "
        f"+ N(0, {SCALAR_NOISE * noise:g}^2)"
    )
    logits = _timed(
        timings, "logits (numpy)", lambda: generator_logits(codec, real, rows, noise, seed)
    )
    by_argmax = _timed(timings, "decode argmax", lambda: codec.decode(logits, method="argmax"))
    by_sample = _timed(
        timings, "decode sample", lambda: codec.decode(logits, method="sample", seed=seed)
    )
    # The per-span activation a generator trains through, over its whole flat output.
    _timed(timings, "gumbel-softmax", lambda: codec.gumbel_softmax(logits, tau=0.5, seed=seed))
    hard = _timed(
        timings, "gumbel hard", lambda: codec.gumbel_softmax(logits, hard=True, seed=seed)
    )
    # The activation puts the scalars through tanh, and they are given here as they come
    # out of it: compare the labels and modes it picks, with the scalars as given.
    scalars = [codec.feature_names[s.start] for s in spans if s.activation != "softmax"]
    same = codec.decode(hard.with_columns(logits.select(scalars))).equals(by_sample)
    nulls = sum(s.activation == "sigmoid" for s in spans)
    squashed = f"tanh on the {len(scalars) - nulls} scalars" + (
        f", sigmoid on the {nulls} null indicators" if nulls else ""
    )
    _say(
        f"per-span activation of all {codec.width} logit columns in one plan "
        f"({sum(s.activation == 'softmax' for s in spans)} Gumbel-Softmax blocks, one noise "
        f"stream each; {squashed}): its hard samples, decoded by "
        f"argmax, pick the labels and modes of the sampled decode: {same}"
    )

    frames = [real, by_argmax, by_sample]
    reports = [
        _timed(timings, f"report {label}", partial(metrics.quality_report, real, df, codec))
        for label, df in (("argmax", by_argmax), ("sampled", by_sample))
    ]
    tvds = [(name, *_categorical_summary(name, frames, reports)) for name in categorical]
    ks = [
        (name, _modes(codec, name), *_numeric_summary(codec, name, frames, reports))
        for name in numeric
    ]
    if tvds:
        _distances(
            "total variation distance to the real frequencies (0 = identical, 1 = disjoint)",
            "K",
            tvds,
        )
    if ks:
        _distances(
            "Kolmogorov-Smirnov distance to the real values (the largest gap between the "
            "two empirical CDFs; 0 = identical, 1 = disjoint)",
            "modes",
            ks,
        )
    _say(
        "argmax decoding collapses every row towards the most frequent category or mode; "
        "Gumbel sampling keeps the distribution (what is left is the generator noise's own "
        "bias)."
    )
    print()
    _say(
        "SDMetrics' quality report, computed exactly on every row by polars_gumbel.metrics "
        "(column shapes: 1 - TVD or 1 - KS per column; column pair trends: contingency "
        "tables and correlations of every pair):"
    )
    for label, report in zip(("argmax", "sampled"), reports):
        print(f"  {label}")
        print(textwrap.indent(report.summary(), "    "))
    if plot is not None:
        kinds = metrics.column_kinds(real, codec=codec)
        named = {"real": real, "argmax": by_argmax, "sampled": by_sample}
        path = _timed(
            timings,
            "plot",
            lambda: drawing.comparison(
                plot, named, kinds, dict(zip(("argmax", "sampled"), reports))
            ),
        )
        print()
        _say(f"picture of every column, real against argmax and sampled: {path}")

    print("\ntimings")
    for label, seconds in timings.items():
        n = real.height if label in ("fit", "encode") else rows
        print(f"  {label:<16}{seconds * 1e3:>9.1f} ms {n / seconds:>14,.0f} rows/s")
