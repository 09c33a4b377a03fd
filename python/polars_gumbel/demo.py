"""The demo: the bundled Adult census table through fit, encode, generator-like logits,
and decoding by argmax and by Gumbel sampling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import polars as pl

from polars_gumbel.codec import Codec
from polars_gumbel.data import ADULT

T = TypeVar("T")
SHOWN = 6  # categories shown per column; the rest are summed into one line


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


def tvd(p: dict[Any, float], q: dict[Any, float]) -> float:
    """Total variation distance between two distributions over labels."""
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in p.keys() | q.keys())


def generator_logits(
    codec: Codec, real: pl.DataFrame, rows: int, noise: float, seed: int
) -> pl.DataFrame:
    """Logits a generator might emit: log of each column's real category frequencies,
    plus independent Gaussian noise of standard deviation `noise` on every cell."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for name, _, _, labels in codec.blocks:
        freq = frequencies(real[name])
        key = {str(k) if k is not None else "null": v for k, v in freq.items()}
        log_p = np.log(np.array([key.get(label, 1e-12) for label in labels]))
        block = log_p + noise * rng.standard_normal((rows, len(labels)))
        for label, values in zip(labels, block.T):
            columns[f"{name}_{label}"] = values.astype(np.float32)
    return pl.DataFrame(columns)


def run(rows: int | None = None, seed: int = 0, noise: float = 0.5) -> None:
    timings: dict[str, float] = {}
    real = pl.read_parquet(ADULT)
    rows = rows or real.height
    print(
        f"Adult census table: {real.height:,} rows, {real.width} columns ({ADULT.name}, CC BY 4.0)"
    )

    codec = _timed(timings, "fit", lambda: Codec.fit(pl.scan_parquet(ADULT)))
    plan = codec.encode(pl.scan_parquet(ADULT))
    schema = plan.collect_schema()
    print(
        f"codec: {len(codec.columns)} categorical columns -> {len(codec.feature_names)} "
        f"features; output schema known before reading any data: {len(schema)} columns, "
        f"e.g. {', '.join(f'{n}: {d}' for n, d in list(schema.items())[1:3])}"
    )
    encoded = _timed(timings, "encode", plan.collect)
    assert encoded.height == real.height

    print(
        f"\ngenerator-like logits for {rows:,} rows: log(real frequency) + N(0, {noise}^2) "
        "noise on every cell (a stand-in for a trained generator)"
    )
    logits = _timed(
        timings, "logits (numpy)", lambda: generator_logits(codec, real, rows, noise, seed)
    )
    by_argmax = _timed(timings, "decode argmax", lambda: codec.decode(logits, method="argmax"))
    by_sample = _timed(
        timings, "decode sample", lambda: codec.decode(logits, method="sample", seed=seed)
    )
    # The per-block activation a generator trains through, over its whole flat output.
    _timed(timings, "gumbel-softmax", lambda: codec.gumbel_softmax(logits, tau=0.5, seed=seed))
    hard = _timed(
        timings, "gumbel hard", lambda: codec.gumbel_softmax(logits, hard=True, seed=seed)
    )
    print(
        f"per-block Gumbel-Softmax of all {len(codec.feature_names)} logit columns in one "
        f"plan ({len(codec.blocks)} blocks, one noise stream each); its hard samples, "
        "decoded by argmax, equal the sampled decode: "
        f"{codec.decode(hard).equals(by_sample)}"
    )

    summary = []
    for name in codec.columns:
        p, a, s = (frequencies(df[name]) for df in (real, by_argmax, by_sample))
        summary.append((name, len(p), tvd(p, a), tvd(p, s)))
        print(
            f"\n{name} ({len(p)} categories)".ljust(40) + f"{'real':>8}{'argmax':>9}{'sampled':>9}"
        )
        ranked = sorted(p, key=lambda k: -p[k])
        for k in ranked[:SHOWN]:
            label = repr(k) if k is None else str(k)
            print(f"  {label[:36]:<36}{p[k]:>8.1%}{a.get(k, 0):>9.1%}{s.get(k, 0):>9.1%}")
        if len(ranked) > SHOWN:
            rest = ranked[SHOWN:]
            print(
                f"  {f'({len(rest)} more)':<36}{sum(p[k] for k in rest):>8.1%}"
                f"{sum(a.get(k, 0) for k in rest):>9.1%}{sum(s.get(k, 0) for k in rest):>9.1%}"
            )

    print("\ntotal variation distance to the real frequencies (0 = identical, 1 = disjoint)")
    print(f"  {'column':<18}{'K':>4}{'argmax':>9}{'sampled':>9}")
    for name, k, ta, ts in summary:
        print(f"  {name:<18}{k:>4}{ta:>9.3f}{ts:>9.3f}")
    mean_a = sum(r[2] for r in summary) / len(summary)
    mean_s = sum(r[3] for r in summary) / len(summary)
    print(f"  {'mean':<22}{mean_a:>9.3f}{mean_s:>9.3f}")
    print(
        "argmax decoding collapses every row towards the mode; Gumbel sampling keeps the "
        "distribution (what is left is the generator noise's own bias)."
    )

    print("\ntimings")
    for label, seconds in timings.items():
        n = real.height if label in ("fit", "encode") else rows
        print(f"  {label:<16}{seconds * 1e3:>9.1f} ms {n / seconds:>14,.0f} rows/s")
