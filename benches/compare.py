"""Side-by-side timings of polars-gumbel against what a user has today, in one process.

Every contender gets the same input and is timed by the best of several runs; the tables
print seconds and the ratio of polars-gumbel's time to each contender's (< 1 = faster).
PyTorch and JAX are optional: their rows appear when ``import torch`` / ``import jax``
work (``make bench WITH_PEERS=1`` installs both).

    python benches/compare.py [--rows N] [--markdown]
        [--only one_hot|softmax|gumbel|sample|decode|codec|matrix|numeric|sampling|metrics]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.mixture import BayesianGaussianMixture
from sklearn.preprocessing import OneHotEncoder

import polars_gumbel as pg
from polars_gumbel.data import ADULT

try:
    import torch
    import torch.nn.functional as F

    HAVE_TORCH = True
except ImportError:  # optional benchmark dependency
    HAVE_TORCH = False

try:
    import jax
    import jax.numpy as jnp

    jax_config: Any = jax.config
    jax_config.update("jax_enable_x64", True)
    HAVE_JAX = True
except ImportError:  # optional benchmark dependency
    HAVE_JAX = False

THREADS = pl.thread_pool_size()
Row = tuple[str, str, float]


def best(f: Callable[[], Any], repeat: int) -> float:
    """The best wall time of `repeat` runs of `f`, after one warm-up run."""
    f()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def best_interleaved(fs: list[Callable[[], Any]], repeat: int) -> list[float]:
    """The best wall time of each of `fs` over `repeat` rounds that run each once, in
    turn: contenders compared as a ratio see the same moments of a noisy machine."""
    for f in fs:
        f()
    times: list[list[float]] = [[] for _ in fs]
    for _ in range(repeat):
        for f, t in zip(fs, times):
            start = time.perf_counter()
            f()
            t.append(time.perf_counter() - start)
    return [min(t) for t in times]


def median_interleaved(fs: list[Callable[[], Any]], rounds: int = 5) -> list[float]:
    """Each of `fs`'s time at the median ratio to the last's over `rounds` rounds of
    `best_interleaved` (nine runs each): a noisy machine moves a single round's ratio
    by a fifth."""
    runs = sorted((best_interleaved(fs, 9) for _ in range(rounds)), key=lambda t: t[0] / t[-1])
    return runs[len(runs) // 2]


def once(f: Callable[[], Any]) -> float:
    """The wall time of one run of `f`: for the slow peers, which take seconds."""
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def report(title: str, rows: list[Row], markdown: bool) -> None:
    """Print one case: every contender's time and polars-gumbel's time relative to it."""
    ours = next(t for name, _, t in rows if name.startswith("polars-gumbel"))
    print(f"\n{title}")
    if markdown:
        print("| contender | time (ms) | polars-gumbel / contender |")
        print("|---|---:|---:|")
    for name, note, t in rows:
        label = f"{name} {note}".strip()
        if markdown:
            print(f"| {label} | {t * 1e3:.1f} | {ours / t:.3f} |")
        else:
            print(f"  {label:<58}{t * 1e3:>10.1f} ms   ratio {ours / t:6.3f}")


# ---------------------------------------------------------------- one_hot


def bench_one_hot(n: int, markdown: bool) -> None:
    rng = np.random.default_rng(0)
    for k in (8, 64):
        cats = [f"category-{j:02d}" for j in range(k)]
        codes = rng.integers(0, k, n)
        strings = pl.Series("x", np.array(cats, dtype=object)[codes], dtype=pl.String)
        for input_kind in ("String", "Enum"):
            s = strings if input_kind == "String" else strings.cast(pl.Enum(cats))
            df = s.to_frame()
            pdf = pd.DataFrame({"x": pd.Categorical(s.to_list(), categories=cats)})
            arr = s.cast(pl.String).to_numpy().reshape(-1, 1)
            for dtype in (pl.UInt8, pl.Float32):
                np_dtype = np.uint8 if dtype == pl.UInt8 else np.float32
                ours = pg.one_hot("x", cats if input_kind == "String" else None, dtype=dtype)
                hand = [(pl.col("x") == v).cast(dtype).alias(f"x_{v}") for v in cats]
                enc = OneHotEncoder(categories=[cats], sparse_output=False, dtype=np_dtype)
                # Every encoder writes n x K values at least once; memory in use already.
                out_buffer = np.zeros((k, n), dtype=np_dtype)
                repeat = 5
                rows: list[Row] = [
                    ("polars-gumbel one_hot", "(struct)", best(lambda: df.select(ours), repeat)),
                    (
                        "polars-gumbel one_hot",
                        "(unnested to columns)",
                        best(lambda: df.select(ours.struct.unnest()), repeat),
                    ),
                    (
                        "DataFrame.to_dummies",
                        "",
                        best(lambda: df.to_dummies().cast(dtype), repeat),
                    ),
                    ("hand-written (col == v).cast", "", best(lambda: df.select(hand), repeat)),
                    (
                        "pandas.get_dummies",
                        "",
                        best(lambda: pd.get_dummies(pdf, columns=["x"], dtype=np_dtype), 2),
                    ),
                    ("scikit-learn OneHotEncoder", "", best(lambda: enc.fit_transform(arr), 2)),
                    (
                        "floor: one write of the output (numpy fill)",
                        "",
                        best(lambda: out_buffer.fill(1), repeat),
                    ),
                ]
                report(
                    f"one_hot: {n:,} rows x {k} categories, {input_kind} -> {dtype}", rows, markdown
                )


# ---------------------------------------------------------------- softmax


def numpy_softmax(x: np.ndarray[Any, Any], log: bool) -> np.ndarray[Any, Any]:
    """softmax or log_softmax along rows in vectorised numpy, into one fresh buffer."""
    y: np.ndarray[Any, Any] = x - x.max(axis=1, keepdims=True)
    if log:
        e = np.exp(y)
        y -= np.log(e.sum(axis=1, keepdims=True))
        return y
    np.exp(y, out=y)
    y /= y.sum(axis=1, keepdims=True)
    return y


def score_frames(
    rng: np.random.Generator, n: int, k: int, dtype: Any, cols: list[str] | None = None
) -> tuple[np.ndarray[Any, Any], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Standard-normal scores of `n` rows and `k` categories in `dtype`: the numpy
    matrix, and the frames holding them as `k` flat columns (named `cols`), an Array `x`
    and a Struct `x`."""
    np_dtype = np.float32 if dtype == pl.Float32 else np.float64
    x = rng.standard_normal((n, k)).astype(np_dtype)
    cols = cols or [f"c{j}" for j in range(k)]
    flat_df = pl.DataFrame(x, schema=cols)
    array_df = pl.DataFrame({"x": x}, schema={"x": pl.Array(dtype, k)})
    struct_df = flat_df.select(pl.struct(cols).alias("x"))
    return x, flat_df, array_df, struct_df


def bench_softmax(n: int, markdown: bool) -> None:
    """`softmax` and `log_softmax` of Array and Struct blocks against numpy,
    `scipy.special` and, where installed, JAX jit and PyTorch."""
    import scipy.special

    if HAVE_TORCH:
        torch.set_num_threads(THREADS)
    rng = np.random.default_rng(1)
    summary: list[str] = []
    for k in (8, 64):
        for dtype in (pl.Float32, pl.Float64):
            x, _, array_df, struct_df = score_frames(rng, n, k, dtype)
            jx = jnp.asarray(x) if HAVE_JAX else None
            tx = torch.from_numpy(x) if HAVE_TORCH else None
            for log in (False, True):
                name = "log_softmax" if log else "softmax"
                expr = (pg.log_softmax if log else pg.softmax)("x")
                t_array = best(lambda: array_df.select(expr), 3)
                t_struct = best(lambda: struct_df.select(expr), 3)
                scipy_fn = scipy.special.log_softmax if log else scipy.special.softmax
                peers: list[Row] = [
                    ("numpy, vectorised", "", best(lambda: numpy_softmax(x, log), 3)),
                    ("scipy.special", name, best(lambda: scipy_fn(x, axis=1), 3)),
                ]
                if jx is not None:
                    jax_fn = jax.jit(
                        (jax.nn.log_softmax if log else jax.nn.softmax), static_argnames="axis"
                    )
                    peers.append(
                        (
                            "JAX jit",
                            f"nn.{name}",
                            best(lambda: jax_fn(jx, axis=1).block_until_ready(), 3),
                        )
                    )
                if tx is not None:
                    torch_fn = torch.log_softmax if log else torch.softmax
                    peers.append(
                        ("PyTorch", f"{name} ({THREADS} threads)", best(lambda: torch_fn(tx, 1), 3))
                    )
                rows: list[Row] = [
                    ("polars-gumbel", "(Array)", t_array),
                    ("polars-gumbel", "(Struct)", t_struct),
                    *peers,
                ]
                report(f"{name}: {n:,} x {k}, {dtype}", rows, markdown)
                fastest = min(peers, key=lambda r: r[2])
                summary.append(
                    f"| {name} {dtype} x {k} | {t_array * 1e3:.1f} ms | "
                    f"{t_array / fastest[2]:.2f} | {t_struct * 1e3:.1f} ms | "
                    f"{t_struct / fastest[2]:.2f} | {fastest[0]} {fastest[2] * 1e3:.0f} ms |"
                )
    print(f"\nsoftmax summary ({n:,} rows; ratios to the fastest peer):")
    print("| case | Array | / fastest | Struct | / fastest | fastest peer |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(summary))


# ---------------------------------------------------------------- gumbel_softmax


def numpy_gumbel(
    x: np.ndarray[Any, Any], tau: float, hard: bool, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """Gumbel-Softmax in vectorised, in-place numpy."""
    g = rng.random(x.shape, dtype=x.dtype)
    np.log(g, out=g)
    np.negative(g, out=g)
    np.log(g, out=g)
    np.subtract(x, g, out=g)  # x + Gumbel noise
    if hard:
        idx = g.argmax(axis=1)
        out = np.zeros_like(x)
        out[np.arange(len(x)), idx] = 1
        return out
    g /= tau
    g -= g.max(axis=1, keepdims=True)
    np.exp(g, out=g)
    g /= g.sum(axis=1, keepdims=True)
    relaxed: np.ndarray[Any, Any] = g
    return relaxed


def polars_gumbel_expr(cols: list[str], noise: list[str], tau: float) -> list[pl.Expr]:
    """Gumbel-Softmax by hand in Polars expressions over noise columns drawn by numpy."""
    z = [(pl.col(c) + pl.col(g)) / tau for c, g in zip(cols, noise)]
    m = pl.max_horizontal(z)
    e = [(zi - m).exp() for zi in z]
    total = pl.sum_horizontal(e)
    return [(ei / total).alias(c) for ei, c in zip(e, cols)]


def jax_gumbel() -> Callable[..., Any]:
    """Gumbel-Softmax compiled by JAX: ``jax.random.gumbel`` and ``jax.nn.softmax``, or
    the one-hot of the argmax when hard."""

    def f(key: Any, x: Any, tau: float, hard: bool) -> Any:
        y = (x + jax.random.gumbel(key, x.shape, dtype=x.dtype)) / tau
        if hard:
            return jax.nn.one_hot(jnp.argmax(y, axis=1), x.shape[1], dtype=x.dtype)
        return jax.nn.softmax(y, axis=1)

    jitted: Callable[..., Any] = jax.jit(f, static_argnames=("hard",))
    return jitted


def per_cell(t: float, n: int, k: int) -> str:
    """Nanoseconds per cell per core."""
    return f"{t * THREADS / (n * k) * 1e9:.2f} ns per cell per core"


def bench_gumbel(n: int, markdown: bool) -> None:
    if HAVE_TORCH:
        torch.set_num_threads(THREADS)
    jitted = jax_gumbel() if HAVE_JAX else None
    rng = np.random.default_rng(1)
    summary: list[str] = []
    for k in (8, 64):
        for dtype in (pl.Float32, pl.Float64):
            x, flat_df, array_df, struct_df = score_frames(rng, n, k, dtype)
            np_dtype = x.dtype
            copy = np.empty_like(x)
            cols = flat_df.columns
            tx = torch.from_numpy(x) if HAVE_TORCH else None
            jx = jnp.asarray(x) if HAVE_JAX else None
            key = jax.random.key(1) if HAVE_JAX else None
            for hard in (False, True):
                repeat = 3
                expr = pg.gumbel_softmax("x", tau=0.5, hard=hard, seed=1)
                t_array = best(lambda: array_df.select(expr), repeat)
                t_struct = best(lambda: struct_df.select(expr), repeat)
                peers: list[Row] = [
                    (
                        "numpy, vectorised in place",
                        "",
                        best(lambda: numpy_gumbel(x, 0.5, hard, rng), repeat),
                    ),
                ]
                if jitted is not None:
                    peers.append(
                        (
                            "JAX jit (random.gumbel + nn.softmax)",
                            "",
                            best(lambda: jitted(key, jx, 0.5, hard).block_until_ready(), repeat),
                        )
                    )
                if tx is not None:
                    peers.append(
                        (
                            "PyTorch F.gumbel_softmax",
                            f"({THREADS} threads)",
                            best(lambda: F.gumbel_softmax(tx, tau=0.5, hard=hard, dim=1), repeat),
                        )
                    )
                rows: list[Row] = [
                    ("polars-gumbel", "(Array)", t_array),
                    ("polars-gumbel", "(Struct)", t_struct),
                    *peers,
                ]
                # The hand-written version builds one expression per category: at K = 64
                # a single run took three minutes here, so it is timed at K = 8 only.
                if not hard and k <= 8:

                    def by_hand() -> pl.DataFrame:
                        g = -np.log(-np.log(rng.random((n, k), dtype=np_dtype)))
                        noise = pl.DataFrame(g, schema=[f"g{j}" for j in range(k)])
                        both = pl.concat([flat_df, noise], how="horizontal")
                        return both.select(polars_gumbel_expr(cols, list(noise.columns), 0.5))

                    rows.append(
                        ("pure Polars expressions + numpy noise", "", best(by_hand, repeat))
                    )
                t_copy = best(lambda: np.copyto(copy, x), 5)
                rows.append(("floor: one read and one write of the block (numpy copy)", "", t_copy))
                kind = "hard" if hard else "soft"
                title = f"gumbel_softmax {kind}: {n:,} x {k}, {dtype}"
                report(title, rows, markdown)
                fastest = min(peers, key=lambda r: r[2])
                summary.append(
                    f"| {kind} {dtype} x {k} | {t_array * 1e3:.1f} ms | "
                    f"{t_array / fastest[2]:.2f} | {t_struct * 1e3:.1f} ms | "
                    f"{t_struct / fastest[2]:.2f} | {t_struct / t_array:.2f} | "
                    f"{fastest[0].split(',')[0].split(' (')[0]} {fastest[2] * 1e3:.0f} ms | "
                    f"{per_cell(t_array, n, k).split(' ns')[0]} ns, "
                    f"{t_array / t_copy:.1f}x the copy |"
                )
    print(f"\nGumbel-Softmax summary ({n:,} rows; ratios to the fastest peer):")
    print(
        "| case | Array | / fastest | Struct | / fastest | Struct / Array | fastest peer | "
        "Array: per cell per core, vs copy |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    print("\n".join(summary))


def numpy_sample(
    x: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], rng: np.random.Generator
) -> pl.Series:
    """Gumbel-max sampling in vectorised, in-place numpy, then the labels gathered into a
    Polars String column (what decode returns)."""
    g = rng.random(x.shape, dtype=x.dtype)
    with np.errstate(divide="ignore"):  # numpy's uniforms include 0
        np.log(g, out=g)
        np.negative(g, out=g)
        np.log(g, out=g)
    np.subtract(x, g, out=g)
    return pl.Series("x", labels[g.argmax(axis=1)], dtype=pl.String)


def bench_sample(n: int, markdown: bool) -> None:
    """Sampled decoding to String against numpy's Gumbel-max and JAX's
    ``random.categorical``, each with the same gather of the labels, and against argmax
    decoding of the same block."""
    rng = np.random.default_rng(3)
    categorical = (
        jax.jit(lambda key, x: jax.random.categorical(key, x, axis=1)) if HAVE_JAX else None
    )
    summary: list[str] = []
    for k in (8, 64):
        labels = [f"label-{j:02d}" for j in range(k)]
        label_array = np.array(labels, dtype=object)
        for dtype in (pl.Float32, pl.Float64):
            x = rng.standard_normal((n, k)).astype(
                np.float32 if dtype == pl.Float32 else np.float64
            )
            cols = [f"x_{v}" for v in labels]
            array_df = pl.DataFrame({"x": x}, schema={"x": pl.Array(dtype, k)})
            struct_df = pl.DataFrame(x, schema=cols).select(pl.struct(cols).alias("x"))
            argmax = pg.decode("x", labels)
            sample = pg.decode("x", labels, method="sample", seed=7)
            peers: list[Row] = [
                (
                    "numpy Gumbel-max + label gather",
                    "",
                    best(lambda: numpy_sample(x, label_array, rng), 3),
                ),
            ]
            if categorical is not None:
                jx, key = jnp.asarray(x), jax.random.key(7)

                def jax_sample() -> pl.Series:
                    idx = np.asarray(categorical(key, jx).block_until_ready())
                    return pl.Series("x", label_array[idx], dtype=pl.String)

                peers.append(("JAX jit random.categorical + label gather", "", best(jax_sample, 3)))
            fastest = min(peers, key=lambda r: r[2])
            times = {}
            for layout, df in (("Array", array_df), ("Struct", struct_df)):
                times[layout] = (
                    best(lambda: df.select(sample), 3),
                    best(lambda: df.select(argmax), 5),
                )
            rows: list[Row] = [
                ("polars-gumbel decode, sample", "(Array)", times["Array"][0]),
                ("polars-gumbel decode, sample", "(Struct)", times["Struct"][0]),
                *peers,
                ("polars-gumbel decode, argmax", "(Array)", times["Array"][1]),
            ]
            report(f"decode(method='sample') to String: {n:,} x {k}, {dtype}", rows, markdown)
            for layout, (t_sample, t_arg) in times.items():
                summary.append(
                    f"| {dtype} x {k}, {layout} | {t_sample * 1e3:.1f} ms | "
                    f"{t_sample / fastest[2]:.2f} | {fastest[0].split(' +')[0]} "
                    f"{fastest[2] * 1e3:.0f} ms | {t_arg * 1e3:.1f} ms | {t_sample / t_arg:.1f} |"
                )
    print(f"\nSampled decode summary ({n:,} rows; ratios to the fastest peer):")
    print("| case | sample | / fastest | fastest peer | argmax | sample / argmax |")
    print("|---|---:|---:|---|---:|---:|")
    print("\n".join(summary))


# ---------------------------------------------------------------- argmax / decode


def bench_decode(n: int, markdown: bool) -> None:
    rng = np.random.default_rng(2)
    for k in (8, 64):
        labels = [f"label-{j:02d}" for j in range(k)]
        label_array = np.array(labels, dtype=object)
        enum = pl.Enum(labels)
        for dtype in (pl.Float32, pl.Float64):
            cols = [f"x_{v}" for v in labels]
            x, flat_df, array_df, struct_df = score_frames(rng, n, k, dtype, cols)
            enc = OneHotEncoder(categories=[labels], sparse_output=False).fit(
                np.array(labels, dtype=object).reshape(-1, 1)
            )
            floor = best(lambda: x.sum(), 5)
            codes = pl.DataFrame({"c": x.argmax(axis=1).astype(np.uint8)})
            m = pl.max_horizontal(cols)
            chain: Any = pl.when(pl.col(cols[0]) == m).then(pl.lit(labels[0]))
            for c, v in zip(cols[1:], labels[1:]):
                chain = chain.when(pl.col(c) == m).then(pl.lit(v))
            gather = pl.lit(pl.Series(labels)).gather(pl.concat_arr(cols).arr.arg_max())
            for target in ("String", "Enum"):
                out_dtype = pl.String if target == "String" else enum
                ours = pg.decode("x", labels, dtype=out_dtype)
                repeat = 5
                rows: list[Row] = [
                    (
                        "polars-gumbel decode",
                        "(Array)",
                        best(lambda: array_df.select(ours), repeat),
                    ),
                    (
                        "polars-gumbel decode",
                        "(Struct)",
                        best(lambda: struct_df.select(ours), repeat),
                    ),
                    (
                        "numpy argmax + gather",
                        "",
                        best(lambda: label_array[x.argmax(axis=1)], repeat)
                        if target == "String"
                        else best(
                            lambda: x.argmax(axis=1).astype(np.uint8 if k < 256 else np.uint16),
                            repeat,
                        ),
                    ),
                    (
                        "max_horizontal + when/then chain",
                        "",
                        # 14 s a run at K = 64: one run is enough to make the point.
                        best(lambda: flat_df.select(chain.cast(out_dtype)), 2 if k <= 8 else 1),
                    ),
                    (
                        "concat_arr().arr.arg_max() + gather",
                        "",
                        best(lambda: flat_df.select(gather.cast(out_dtype)), repeat),
                    ),
                    (
                        "scikit-learn inverse_transform",
                        "",
                        best(lambda: enc.inverse_transform(x), 2),
                    ),
                    ("floor: one read of the score buffer (numpy sum)", "", floor),
                ]
                if target == "Enum":
                    rows.append(
                        (
                            "floor: Polars making an Enum of n codes (UInt8 cat.to)",
                            "",
                            best(lambda: codes.select(pl.col("c").cat.to(enum)), repeat),
                        )
                    )
                report(f"decode to {target}: {n:,} x {k}, {dtype}", rows, markdown)
            rows = [
                (
                    "polars-gumbel argmax",
                    "(Array)",
                    best(lambda: array_df.select(pg.argmax("x")), 5),
                ),
                (
                    "polars-gumbel argmax",
                    "(Struct)",
                    best(lambda: struct_df.select(pg.argmax("x")), 5),
                ),
                ("numpy argmax", "", best(lambda: x.argmax(axis=1), 5)),
                ("floor: one read of the score buffer (numpy sum)", "", floor),
            ]
            report(f"argmax: {n:,} x {k}, {dtype}", rows, markdown)


# ---------------------------------------------------------------- Codec.encode, wide


def bench_encode_floor(n: int, markdown: bool) -> None:
    """Codec.encode of Adult's 9 categorical columns in every layout and dtype, against
    the floors of its two stages: numpy filling a fresh buffer of the output's size, and
    Polars itself turning the String columns into codes (a cast to Enum)."""
    table = _adult(n)
    codec = pg.Codec.fit(table, numeric=None)
    enums = {c: pl.Enum(table[c].drop_nulls().unique().sort().to_list()) for c in codec.columns}
    t_codes = best(lambda: table.select(pl.col(c).cast(e) for c, e in enums.items()), 5)
    for dtype, np_dtype in ((pl.UInt8, np.uint8), (pl.Float32, np.float32)):

        def fill() -> np.ndarray[Any, Any]:
            buffer = np.empty((n, codec.width), dtype=np_dtype)
            buffer.fill(1)
            return buffer

        rows: list[Row] = []
        for layout in ("flat", "struct", "array", "matrix"):
            t_encode, t_fill = median_interleaved(
                [lambda: codec.encode(table, layout=layout, dtype=dtype), fill]
            )
            rows.append(("polars-gumbel", f"Codec.encode, {layout}", t_encode))
        rows.append(("floor: numpy filling a fresh buffer of the output's size", "", t_fill))
        rows.append(("floor: Polars casting the 9 String columns to Enum", "", t_codes))
        report(
            f"Codec.encode of {n:,} rows, 9 columns, {codec.width} features, {dtype}",
            rows,
            markdown,
        )


def bench_codec_wide(markdown: bool) -> None:
    """Codec.encode's flat layout on a wide codec: the plan's size, not the rows, costs."""
    rows = 10
    for n_cols, k in ((1_000, 100), (1, 100_000)):
        cats = [f"v{j}" for j in range(k)]
        document = {
            "format": "polars-gumbel-codec",
            "version": 1,
            "columns": [
                {
                    "name": f"c{i}",
                    "dtype": "string",
                    "categories": {"string": cats},
                    "null_category": False,
                    "infrequent": None,
                }
                for i in range(n_cols)
            ],
        }
        codec = pg.Codec.from_json(json.dumps(document))
        df = pl.DataFrame(
            {f"c{i}": [cats[(r * 7 + i) % k] for r in range(rows)] for i in range(n_cols)}
        )
        sk = OneHotEncoder(categories=[cats] * n_cols, sparse_output=False, dtype=np.float32)
        sk.fit(df.head(1).to_numpy())
        report(
            f"Codec.encode flat: {rows} rows, {n_cols:,} columns x {k:,} = {n_cols * k:,} features",
            [
                ("polars-gumbel", "Codec.encode", best(lambda: codec.encode(df), 2)),
                ("Polars", "to_dummies (seen values only)", best(lambda: df.to_dummies(), 2)),
                (
                    "scikit-learn",
                    "OneHotEncoder.transform",
                    best(lambda: sk.transform(df.to_numpy()), 2),
                ),
            ],
            markdown,
        )
        encoded = codec.encode(df)
        report(
            f"Codec.decode and Codec.gumbel_softmax: {rows} rows, {n_cols * k:,} features",
            [
                ("polars-gumbel", "Codec.decode", best(lambda: codec.decode(encoded), 2)),
                (
                    "polars-gumbel",
                    "Codec.gumbel_softmax",
                    best(lambda: codec.gumbel_softmax(encoded, seed=1), 2),
                ),
                (
                    "scikit-learn",
                    "OneHotEncoder.inverse_transform",
                    best(lambda: sk.inverse_transform(encoded.to_numpy()), 2),
                ),
            ],
            markdown,
        )
    # An Enum column of 100,000 categories: the codec's checks stay linear in them.
    cats = [f"v{j}" for j in range(100_000)]
    enum_frame = pl.DataFrame(
        {"e": [cats[r * 7] for r in range(rows)]}, schema={"e": pl.Enum(cats)}
    )
    report(
        f"Codec.fit, encode and decode: {rows} rows, one Enum column of 100,000 categories",
        [
            (
                "polars-gumbel",
                "fit + encode + decode",
                best(lambda: (c := pg.Codec.fit(enum_frame)).decode(c.encode(enum_frame)), 2),
            ),
        ],
        markdown,
    )


# ---------------------------------------------------------------- the codec's matrix


def _adult(n: int) -> pl.DataFrame:
    """The bundled Adult table resampled to `n` rows."""
    real = pl.read_parquet(ADULT)
    return real.sample(n, with_replacement=True, seed=0)


def bench_matrix(n: int, markdown: bool) -> None:
    """A generator's N x D matrix to a table and back, against the frame a user would
    otherwise build, and scikit-learn on the same matrix."""
    table = _adult(n)
    codec = pg.Codec.fit(table, numeric=None)
    blocks = codec.blocks
    onehot = codec.encode(table, layout="matrix")["features"].to_numpy()
    rng = np.random.default_rng(0)
    logits = (2.0 * onehot + rng.standard_normal(onehot.shape)).astype(np.float32)
    flat = pl.DataFrame(logits, schema=codec.feature_names)
    enc = OneHotEncoder(categories=[labels for _, _, _, labels in blocks], sparse_output=False).fit(
        np.array([[labels[0] for _, _, _, labels in blocks]], dtype=object)
    )
    shape = f"{n:,} x {codec.width}, Float32"
    ours_argmax = best(lambda: codec.decode(logits), 3)
    report(
        f"matrix -> table, argmax: {shape}",
        [
            ("polars-gumbel", "Codec.decode(numpy matrix)", ours_argmax),
            (
                "polars-gumbel",
                "Codec.decode(flat frame), frame prebuilt",
                best(lambda: codec.decode(flat), 3),
            ),
            (
                "polars-gumbel",
                "pl.DataFrame(matrix, schema=feature_names) + decode",
                best(lambda: codec.decode(pl.DataFrame(logits, schema=codec.feature_names)), 2),
            ),
            (
                "scikit-learn",
                "OneHotEncoder.inverse_transform",
                best(lambda: enc.inverse_transform(logits), 2),
            ),
        ],
        markdown,
    )
    report(
        f"matrix -> table, sampled: {shape}",
        [
            (
                "polars-gumbel",
                "Codec.decode(numpy matrix, method='sample')",
                best(lambda: codec.decode(logits, method="sample", seed=1), 3),
            ),
            (
                "polars-gumbel",
                "Codec.decode(flat frame, method='sample')",
                best(lambda: codec.decode(flat, method="sample", seed=1), 3),
            ),
        ],
        markdown,
    )
    report(
        f"table -> matrix: {shape}",
        [
            (
                "polars-gumbel",
                "encode(layout='matrix')['features'].to_numpy()",
                best(lambda: codec.encode(table, layout="matrix")["features"].to_numpy(), 3),
            ),
            (
                "polars-gumbel",
                "encode(layout='flat').to_numpy()",
                best(lambda: codec.encode(table).select(codec.feature_names).to_numpy(), 3),
            ),
            (
                "numpy",
                "np.full of a fresh buffer of the same size",
                best(lambda: np.full(onehot.shape, 1.0, np.float32), 3),
            ),
        ],
        markdown,
    )
    arrays = pl.DataFrame({name: logits[:, a:b] for name, a, b, _ in blocks})
    seeds = {name: pg._internal.derive_seed(1, name) for name, _, _, _ in blocks}
    per_block = [pg.gumbel_softmax(name, tau=0.5, seed=seeds[name]) for name in arrays.columns]
    matrix_frame = pl.DataFrame({"features": logits})
    report(
        f"Gumbel-Softmax of every block, tau = 0.5: {shape}",
        [
            (
                "polars-gumbel",
                "Codec.gumbel_softmax(matrix column)",
                best(lambda: codec.gumbel_softmax(matrix_frame, tau=0.5, seed=1), 3),
            ),
            (
                "polars-gumbel",
                "gumbel_softmax of each block as an Array column",
                best(lambda: arrays.select(per_block), 3),
            ),
            (
                "polars-gumbel",
                "Codec.gumbel_softmax(flat frame)",
                best(lambda: codec.gumbel_softmax(flat, tau=0.5, seed=1), 3),
            ),
        ],
        markdown,
    )
    # One column of 100,000 categories, 1,000 rows: the wide codec of CTGAN #52.
    rows, k = 1_000, 100_000
    cats = [f"v{j}" for j in range(k)]
    wide = pg.Codec.from_json(
        json.dumps(
            {
                "format": "polars-gumbel-codec",
                "version": 1,
                "columns": [
                    {
                        "name": "c",
                        "dtype": "string",
                        "categories": {"string": cats},
                        "null_category": False,
                        "infrequent": None,
                    }
                ],
            }
        )
    )
    scores = rng.standard_normal((rows, k)).astype(np.float32)
    sk = OneHotEncoder(categories=[cats], sparse_output=False).fit(
        np.array([[cats[0]]], dtype=object)
    )
    report(
        f"wide matrix -> table: {rows:,} x {k:,}, one column",
        [
            ("polars-gumbel", "Codec.decode(numpy matrix)", best(lambda: wide.decode(scores), 3)),
            (
                "scikit-learn",
                "OneHotEncoder.inverse_transform",
                best(lambda: sk.inverse_transform(scores), 3),
            ),
        ],
        markdown,
    )


# ---------------------------------------------------------------- numeric columns

NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


def bench_numeric(n: int, markdown: bool) -> None:
    """Mode-specific normalisation: the fit and the encoding of Adult's six numeric
    columns against RDT's ClusterBasedNormalizer (CTGAN's preprocessing) and
    scikit-learn's BayesianGaussianMixture; the whole table against its categorical
    columns alone."""
    small = _adult(100_000)
    numbers = small.select(NUMERIC)
    shape = f"{len(small):,} rows x {len(NUMERIC)} numeric columns"
    ours_fit = best(lambda: pg.Codec.fit(numbers), 1)
    codec = pg.Codec.fit(numbers)
    ours_encode = best(lambda: codec.encode(numbers, method="sample", seed=0), 3)
    fit_rows: list[Row] = [("polars-gumbel", "Codec.fit", ours_fit)]
    encode_rows: list[Row] = [("polars-gumbel", "Codec.encode, sampled modes", ours_encode)]
    try:
        from rdt.transformers.numerical import ClusterBasedNormalizer

        frame = numbers.to_pandas()

        def rdt_fit() -> list[Any]:
            fitted = []
            for c in NUMERIC:
                t = ClusterBasedNormalizer(max_clusters=10, weight_threshold=0.005)
                t.fit(frame, column=c)
                fitted.append(t)
            return fitted

        fitted = rdt_fit()
        rdt_fit_time = once(rdt_fit)
        fit_rows.append(("RDT", "ClusterBasedNormalizer.fit", rdt_fit_time))
        encode_rows.append(
            (
                "RDT",
                "ClusterBasedNormalizer.transform",
                once(lambda: [t.transform(frame) for t in fitted]),
            )
        )
    except ImportError:
        print("\n(RDT is not installed: pip install rdt for the RDT rows)")
    report(f"numeric fit: {shape}", fit_rows, markdown)
    report(f"numeric encode: {shape}", encode_rows, markdown)

    # A column of 10^6 distinct floats: our fit against scikit-learn's on the same rows.
    rng = np.random.default_rng(0)
    wide = np.concatenate(
        [rng.normal(0.0, 1.0, 600_000), rng.normal(8.0, 2.0, 300_000), rng.normal(20, 0.5, 100_000)]
    )
    distinct = pl.DataFrame({"x": wide})
    rows = [("polars-gumbel", "Codec.fit", best(lambda: pg.Codec.fit(distinct), 1))]
    bgm = BayesianGaussianMixture(
        n_components=10,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        max_iter=100,
        random_state=0,
    )
    rows.append(
        ("scikit-learn", "BayesianGaussianMixture.fit", once(lambda: bgm.fit(wide[:, None])))
    )
    report("numeric fit: 1,000,000 distinct floats, one column", rows, markdown)
    # The two fits judged alike: the mean log-likelihood per value of every component.
    modes, _, _, _ = pg._internal.fit_mixture(wide.tolist(), [1.0] * len(wide))
    w, m, sd = (np.array(v) for v in zip(*modes))
    log_joint = (
        np.log(w) - np.log(sd) - 0.5 * np.log(2 * np.pi) - 0.5 * ((wide[:, None] - m) / sd) ** 2
    )
    top = log_joint.max(axis=1)
    ours_ll = float((top + np.log(np.exp(log_joint - top[:, None]).sum(axis=1))).mean())
    print(
        f"  mean log-likelihood per value: polars-gumbel {ours_ll:.4f}, "
        f"scikit-learn {bgm.score(wide[:, None]):.4f}"
    )

    # The whole 15-column table against its 9 categorical columns alone.
    table = _adult(n)
    whole = pg.Codec.fit(table)
    categorical = pg.Codec.fit(table, numeric=None)
    for method in ("argmax", "sample"):
        t_whole, t_categorical = median_interleaved(
            [
                lambda: whole.encode(table, method=method, seed=0),
                lambda: categorical.encode(table),
            ]
        )
        rows = [
            ("polars-gumbel", f"all 15 columns ({whole.width} features)", t_whole),
            (
                "polars-gumbel",
                f"9 categorical columns ({categorical.width} features)",
                t_categorical,
            ),
        ]
        report(f"encode, {method} modes: {n:,} rows, flat Float32", rows, markdown)
    encoded = whole.encode(table, method="sample", seed=0)
    encoded_categorical = categorical.encode(table)
    t_whole, t_categorical = median_interleaved(
        [lambda: whole.decode(encoded), lambda: categorical.decode(encoded_categorical)]
    )
    rows = [
        ("polars-gumbel", "all 15 columns", t_whole),
        ("polars-gumbel", "9 categorical columns", t_categorical),
    ]
    report(f"decode, argmax: {n:,} rows, flat Float32", rows, markdown)


# ---------------------------------------------------------------- training-by-sampling


def _ctgan_sampler(codec: pg.Codec, x: np.ndarray[Any, Any], log_frequency: bool) -> Any:
    """CTGAN's DataSampler over the codec's matrix, its output_info built from the spans:
    a column is discrete when its one span is a softmax, as CTGAN decides."""
    from ctgan.data_sampler import DataSampler  # type: ignore[import-not-found, unused-ignore]
    from ctgan.data_transformer import SpanInfo  # type: ignore[import-not-found, unused-ignore]

    info = [
        [SpanInfo(s.stop - s.start, s.activation) for s in codec.spans if s.column == c]
        for c in codec.columns
    ]
    return DataSampler(x, info, log_frequency)


def bench_sampling(n: int, markdown: bool) -> None:
    """CTGAN's training-by-sampling: the one-time index over the real table, then a
    500-element batch (condition vectors, masks and matching real rows) per step."""
    table = _adult(n)
    codec = pg.Codec.fit(table)
    size = 500
    index_rows: list[Row] = [
        (
            "polars-gumbel",
            "codec.sampler(real), log frequency",
            best(lambda: codec.sampler(table), 3),
        )
    ]
    sampler = codec.sampler(table)
    steps = iter(range(10**9))
    ours = best(lambda: sampler.batch(size, seed=0, step=next(steps)), 500)
    batch_rows: list[Row] = [("polars-gumbel", "Sampler.batch", ours)]
    x = codec.encode(table, layout="matrix", seed=0)["features"].to_numpy()

    def with_rows() -> np.ndarray[Any, Any]:
        batch = sampler.batch(size, seed=0, step=next(steps))
        cond = batch["condition"].to_numpy()
        return np.concatenate([x[batch["row"].to_numpy()], cond], axis=1)

    batch_rows.append(
        ("polars-gumbel", "Sampler.batch + real rows gathered beside cond", best(with_rows, 500))
    )
    batch_rows.append(
        (
            "polars-gumbel",
            "Sampler.conditions (generation)",
            best(lambda: sampler.conditions(size, seed=0, step=next(steps)), 500),
        )
    )
    calls = []
    for _ in range(1000):
        start = time.perf_counter()
        sampler.batch(size, seed=0, step=next(steps))
        calls.append(time.perf_counter() - start)
    try:
        x64 = x.astype(np.float64)
        ctgan_index = once(lambda: _ctgan_sampler(codec, x64, True))
        index_rows.append(
            ("CTGAN", "DataSampler(data, output_info, log_frequency=True)", ctgan_index)
        )
        theirs = _ctgan_sampler(codec, x64, True)

        def ctgan_batch() -> Any:
            _cond, _mask, col, opt = theirs.sample_condvec(size)
            return theirs.sample_data(x64, size, col, opt)

        batch_rows.append(("CTGAN", "sample_condvec + sample_data", best(ctgan_batch, 50)))
    except ImportError:
        print("\n(ctgan is not installed; it needs PyTorch: pip install ctgan for its rows)")
    shape = f"{n:,} real rows, {len(sampler.columns)} categorical columns, width {sampler.width}"
    report(f"training-by-sampling index: {shape}", index_rows, markdown)
    report(f"training-by-sampling, a batch of {size}: {shape}", batch_rows, markdown)
    print(
        f"  Sampler.batch over 1,000 steps: median {np.median(calls) * 1e3:.3f} ms, "
        f"99th percentile {np.percentile(calls, 99) * 1e3:.3f} ms"
    )


# ---------------------------------------------------------------- fidelity metrics


def bench_metrics(n: int, markdown: bool) -> None:
    """SDMetrics' quality report of a synthetic table: ours on every row, lazily, against
    SDMetrics' ``QualityReport.generate`` as users run it (its defaults: pair tables on a
    subsample of 50,000 rows), on the same frames. Two synthetic tables: another
    resample of Adult (values the real table has), and the real table decoded from
    noisy logits by sampling (a generator's output: wider numeric values, every score
    below 1)."""
    import warnings

    from polars_gumbel import metrics

    real = _adult(n)
    codec = pg.Codec.fit(real, seed=0)
    logits = pl.DataFrame(
        np.random.default_rng(1).normal(size=(n, codec.width)).astype(np.float32),
        schema=codec.feature_names,
    )
    cases = {
        "another resample": pl.read_parquet(ADULT).sample(n, with_replacement=True, seed=1),
        "decoded logits": codec.decode(logits, method="sample", seed=2),
    }
    del logits
    kinds = metrics.column_kinds(real)
    pairs = len(kinds) * (len(kinds) - 1) // 2
    for label, synthetic in cases.items():
        ours = best(lambda: metrics.quality_report(real, synthetic), 5)
        rows: list[Row] = [("polars-gumbel", "metrics.quality_report, every row", ours)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from sdmetrics.reports.single_table import QualityReport

                pr, ps = real.to_pandas(), synthetic.to_pandas()
                meta = {"columns": {c: {"sdtype": k} for c, k in kinds.items()}}

                def sdmetrics() -> Any:
                    qr = QualityReport()
                    qr.generate(pr, ps, meta, verbose=False)
                    return qr

                theirs = once(sdmetrics)
            rows.append(("SDMetrics 0.32", "QualityReport.generate, defaults", theirs))
        except ImportError:
            print("\n(sdmetrics is not installed: pip install sdmetrics for its row)")
        title = f"quality report, synthetic = {label}: {n:,} rows, {len(kinds)} columns"
        report(f"{title}, {pairs} pairs", rows, markdown)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument(
        "--only",
        choices=(
            "one_hot",
            "softmax",
            "gumbel",
            "sample",
            "decode",
            "codec",
            "matrix",
            "numeric",
            "sampling",
            "metrics",
        ),
    )
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    print(
        f"polars {pl.__version__}, polars-gumbel {pg.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__ if HAVE_TORCH else 'not installed'}, "
        f"jax {jax.__version__ if HAVE_JAX else 'not installed'}; "
        f"Polars threads {THREADS}, cores {os.cpu_count()}"
    )
    if args.only in (None, "one_hot"):
        bench_one_hot(args.rows, args.markdown)
    if args.only in (None, "softmax"):
        bench_softmax(args.rows, args.markdown)
    if args.only in (None, "gumbel"):
        bench_gumbel(args.rows, args.markdown)
    if args.only in (None, "sample"):
        bench_sample(args.rows, args.markdown)
    if args.only in (None, "decode"):
        bench_decode(args.rows, args.markdown)
    if args.only in (None, "codec"):
        bench_encode_floor(args.rows, args.markdown)
        bench_codec_wide(args.markdown)
    if args.only in (None, "matrix"):
        bench_matrix(args.rows, args.markdown)
    if args.only in (None, "numeric"):
        bench_numeric(args.rows, args.markdown)
    if args.only in (None, "sampling"):
        bench_sampling(args.rows, args.markdown)
    if args.only in (None, "metrics"):
        bench_metrics(args.rows, args.markdown)


if __name__ == "__main__":
    main()
