"""`gumbel_softmax` (DESIGN §3, §4, §5).

Three tiers, as STYLE.md asks:

1. reference: the plugin's output equals ``softmax((logits + g) / tau)`` computed in numpy,
   with ``g`` from ``polars_gumbel._internal.gumbel_noise``, itself checked against an
   independent pure-Python implementation of the documented noise function F;
2. value stability: literal noise values and outputs, pasted in from that pure-Python F;
3. statistics on fixed seeds at alpha = 0.001.

Then reproducibility (threads, chunks, engines, partitions), special values and lazy plans.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal
from scipy import stats

import polars_gumbel as pg
from polars_gumbel._internal import gumbel_noise, philox_words
from polars_gumbel._plugin import _plugin

Layout = Literal["struct", "array", "list"]
Value = Optional[Union[float, int]]
Row = Optional[Sequence[Value]]
Floats = npt.NDArray[np.float64]

LAYOUTS: tuple[Layout, ...] = ("struct", "array", "list")
ALPHA = 1e-3
INF = math.inf
NAN = math.nan
TOLERANCE: dict[str, tuple[float, float]] = {"f64": (1e-12, 1e-12), "f32": (1e-6, 1e-6)}

# ============================================================================ pure-Python F
# The noise function documented in src/rng.rs (F version 3), written again from its
# description: Philox4x32-10 keyed by the seed, over counters (row, block).

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)


def philox4x32_10(counter: Sequence[int], key: Sequence[int]) -> list[int]:
    """Philox4x32-10 as Salmon et al. (2011) define it."""
    x = list(counter)
    k0, k1 = key
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + PHILOX_W[0]) & M32, (k1 + PHILOX_W[1]) & M32
        p0, p1 = PHILOX_M[0] * x[0], PHILOX_M[1] * x[2]
        x = [((p1 >> 32) ^ x[1] ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ x[3] ^ k1) & M32, p0 & M32]
    return x


def words(seed: int, r: int, block: int) -> list[int]:
    """The Philox words of counter (r, block) under `seed`."""
    return philox4x32_10([r & M32, r >> 32, block, 0], [seed & M32, seed >> 32])


def py_noise(seed: int, r: int, j: int, *, f32: bool = False) -> float:
    """g(r, j) in double precision: Float32 blocks take one word per cell, four cells
    per counter and 23 bits; Float64 blocks two words per cell, two cells per counter
    and 52 bits."""
    if f32:
        u = ((words(seed, r, j // 4)[j % 4] >> 9) + 0.5) * 2.0**-23
    else:
        w = words(seed, r, j // 2)
        u = ((((w[2 * (j % 2)] << 32) | w[2 * (j % 2) + 1]) >> 12) + 0.5) * 2.0**-52
    return -math.log(-math.log(u))


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def counter(key: int | str) -> int:
    """The row counter of a key value: two's-complement bits, or FNV-1a of a string."""
    return fnv1a64(key) if isinstance(key, str) else key & M64


# ============================================================================ helpers


def make_column(
    rows: Sequence[Row], layout: Layout, dtype: pl.DataType, width: int | None = None
) -> pl.Series:
    """A score column named ``x`` holding `rows` (``None`` = null row) in `layout`."""
    if layout == "list":
        return pl.Series("x", [None if r is None else list(r) for r in rows], dtype=pl.List(dtype))
    if width is None:
        width = len(next(r for r in rows if r is not None))
    if layout == "array":
        return pl.Series(
            "x", [None if r is None else list(r) for r in rows], dtype=pl.Array(dtype, width)
        )
    names = [f"x_{j}" for j in range(width)]
    struct_rows = [None if r is None else dict(zip(names, r)) for r in rows]
    return pl.Series("x", struct_rows, dtype=pl.Struct(dict.fromkeys(names, dtype)))


def rows_of(s: pl.Series) -> list[list[Any] | None]:
    """The blocks of a Struct / Array / List column as Python lists, ``None`` for nulls."""
    out: list[list[Any] | None] = []
    for v in s.to_list():
        if v is None:
            out.append(None)
        elif isinstance(v, dict):
            out.append(list(v.values()))
        else:
            out.append(list(v))
    return out


def np_softmax(s: Floats, tau: float) -> Floats:
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp((s - s.max()) / tau)
    out: Floats = e / e.sum()
    return out


def reference(
    rows: Sequence[Sequence[Any] | None],
    counters: Sequence[int],
    seed: int,
    tau: float,
    *,
    hard: bool,
    f32: bool,
) -> list[Floats | None]:
    """``softmax(((x - max) + g) / tau)`` (or the one-hot of its argmax) per row, in numpy.

    `g` comes from ``gumbel_noise``; Float32 blocks form the perturbed score in Float32
    arithmetic with their Float32 noise, as DESIGN §2 computes Float32 blocks in Float32.
    """
    widths = [len(r) for r in rows if r is not None]
    noise = gumbel_noise(seed, list(counters), max(widths, default=0), f32)
    out: list[Floats | None] = []
    for row, g_row in zip(rows, noise):
        if row is None or any(v is None for v in row):
            out.append(None)
            continue
        x = np.asarray(row, dtype=np.float64)
        if f32:
            x = x.astype(np.float32).astype(np.float64)
        if x.size == 0 or np.isnan(x).any() or np.isposinf(x).any() or np.isneginf(x).all():
            out.append(None)
            continue
        g = np.asarray(g_row[: x.size], dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            if f32:
                x32 = x.astype(np.float32)
                s = ((x32 - x32.max()) + g.astype(np.float32)).astype(np.float64)
            else:
                s = (x - x.max()) + g
        if hard:
            one_hot = np.zeros_like(s)
            one_hot[int(np.argmax(s))] = 1.0
            out.append(one_hot)
        else:
            out.append(np_softmax(s, tau))
    return out


def assert_rows_close(
    got: Sequence[Sequence[Any] | None], want: Sequence[Floats | None], dtype_name: str
) -> None:
    rtol, atol = TOLERANCE[dtype_name]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"row {i}: expected a null row, got {g}"
            continue
        assert g is not None, f"row {i}: expected {w.tolist()}, got a null row"
        np.testing.assert_allclose(
            np.asarray(g, dtype=np.float64), w, rtol=rtol, atol=atol, err_msg=f"row {i}"
        )


def random_rows(
    rng: np.random.Generator, n: int, width: int | None, *, mask: float = 0.15
) -> list[list[float]]:
    """Rows of N(0, 3²) logits with a fraction `mask` of ``-inf``; ``width=None`` varies K."""
    rows = []
    for _ in range(n):
        k = int(rng.integers(1, 11)) if width is None else width
        x = rng.normal(0.0, 3.0, k)
        x[rng.random(k) < mask] = -np.inf
        if np.isneginf(x).all():
            x[0] = 0.0
        rows.append(x.tolist())
    return rows


def logits_frame(logits: Sequence[float], n: int, dtype: Any = np.float64) -> pl.DataFrame:
    """`n` rows of the same logits as an ``Array`` column ``x``."""
    x = np.broadcast_to(np.asarray(logits, dtype=dtype), (n, len(logits))).copy()
    return pl.DataFrame([pl.Series("x", x)])


def digest(df: pl.DataFrame) -> str:
    """A hash of a frame's bits (Array columns of floats only)."""
    h = hashlib.sha256()
    for s in df.get_columns():
        h.update(np.ascontiguousarray(s.to_numpy()).tobytes())
    return h.hexdigest()


# ============================================================================ value stability

# (seed, row counter, category, the Philox words of the cell's Float64 counter, Float64 g,
# Float32 g): computed with the pure-Python F above, in double precision.
NOISE_TABLE: list[tuple[int, int, int, tuple[int, int, int, int], float, float]] = [
    (
        0,
        0,
        0,
        (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8),
        0.08482025135306255,
        0.0848202781038536,
    ),
    (
        0,
        0,
        1,
        (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8),
        1.181182895396333,
        2.0616609605912424,
    ),
    (
        42,
        0,
        0,
        (0x9CEAF053, 0x77F5493B, 0x12BF50AD, 0x5742B3D7),
        0.714461133938419,
        0.7144612678329418,
    ),
    (
        42,
        1,
        2,
        (0x20FF9139, 0xFDD21D94, 0x1B0AF4EC, 0x39C6BD08),
        -0.7172157470586076,
        0.4068942923562511,
    ),
    (
        42,
        12345,
        7,
        (0x396AB3D2, 0x77A8A636, 0xFB228628, 0x860120DA),
        3.953503528171726,
        1.2272512345724362,
    ),
    (
        M64,
        M64,
        0,
        (0x4D18D7D2, 0x430AC65A, 0xBD2FA22A, 0x0AFAE10D),
        -0.1824153150654866,
        -0.1824154505160991,
    ),
    (
        7,
        M64,
        3,
        (0x4671B109, 0x1E53D5FF, 0x2A306D63, 0xBE6450DF),
        -0.589459659952191,
        0.37895038070716974,
    ),  # key -1
    (
        123,
        5803779529149266183,
        0,
        (0xC3217AE5, 0x6E362437, 0x40722B6A, 0x50F7852C),
        1.3037657500320161,
        1.3037657799240698,
    ),  # key "alice"
]

# gumbel_softmax([1, 2, 3], tau=0.5, seed=42), rows 0, 1, 2 (positional).
SOFT_POSITIONAL = [
    [0.532660532795754, 0.13797908714411833, 0.32936038006012763],
    [0.9954880099338473, 0.0025345576495730987, 0.0019774324165793616],
    [0.3460382551825181, 0.3651654976244649, 0.288796247193017],
]
# gumbel_softmax([0.5, -1.0], tau=1, seed=2024, key=["alice", "bob"]).
SOFT_STRING_KEY = [
    [0.9439124474356982, 0.05608755256430188],
    [0.2313212213106568, 0.7686787786893432],
]
# gumbel_softmax([0, 0, 0], tau=2, seed=99, key=[-5, 10**12]).
SOFT_INT_KEY = [
    [0.21292322773361455, 0.08853296650223655, 0.698543805764149],
    [0.3263928182193066, 0.1613136708592846, 0.5122935109214088],
]
# argmax of gumbel_softmax([0, 0, 0, 0], hard=True, seed=7), rows 0..11.
HARD_POSITIONAL = [0, 2, 1, 0, 1, 1, 0, 1, 2, 0, 2, 0]

# The plugin's own noise for NOISE_TABLE, bit for bit (Float64, then Float32 as its
# IEEE bits): any change to F changes these.
NOISE_BITS: list[tuple[str, int]] = [
    ("0x1.5b6c7ad999345p-4", 1034794559),
    ("0x1.2e62009252641p+0", 1074000449),
    ("0x1.6dcdd9890ea2cp-1", 1060562671),
    ("-0x1.6f36e70395faap-1", 1053840498),
    ("0x1.fa0c67530f207p+1", 1067259537),
    ("-0x1.75962923f7669p-3", 3191524127),
    ("-0x1.2dcda8139ca45p-1", 1052902858),
    ("0x1.4dc3979a084cbp+0", 1067901388),
]

F32_ULP = 2.0**-23


def test_python_f_reference_vectors() -> None:
    # Random123's known-answer vectors for Philox4x32-10: counter, key, output.
    kat = [
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([M32] * 4, [M32, M32], [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ]
    for ctr, key, want in kat:
        assert philox4x32_10(ctr, key) == want
    # Published FNV-1a 64 test vectors.
    assert fnv1a64("") == 0xCBF29CE484222325
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C
    assert fnv1a64("foobar") == 0x85944171F73967E8
    assert fnv1a64("alice") == 5803779529149266183


@pytest.mark.parametrize(("seed", "r", "j", "w", "g64", "g32"), NOISE_TABLE)
def test_python_f_is_pinned(
    seed: int, r: int, j: int, w: tuple[int, ...], g64: float, g32: float
) -> None:
    assert tuple(words(seed, r, j // 2)) == w
    assert py_noise(seed, r, j) == pytest.approx(g64, rel=1e-15, abs=1e-15)
    assert py_noise(seed, r, j, f32=True) == pytest.approx(g32, rel=1e-15, abs=1e-15)


@pytest.mark.parametrize(("seed", "r", "j", "w", "g64", "g32"), NOISE_TABLE)
def test_gumbel_noise_is_pinned(
    seed: int, r: int, j: int, w: tuple[int, ...], g64: float, g32: float
) -> None:
    assert tuple(philox_words(seed, r, j // 2)) == w
    assert gumbel_noise(seed, [r], j + 1)[0][j] == pytest.approx(g64, rel=1e-15, abs=1e-15)
    # Float32 noise: within four Float32 units of the double-precision value.
    got = gumbel_noise(seed, [r], j + 1, True)[0][j]
    assert got == pytest.approx(g32, rel=4 * F32_ULP, abs=4 * F32_ULP)


def test_gumbel_noise_bits_are_pinned() -> None:
    """Value stability: the exact bits of both dtypes' noise for the table's cells."""
    got = []
    for seed, r, j, *_ in NOISE_TABLE:
        g64 = gumbel_noise(seed, [r], j + 1)[0][j]
        g32 = np.float32(gumbel_noise(seed, [r], j + 1, True)[0][j])
        got.append((g64.hex(), int(g32.view(np.uint32))))
    assert got == NOISE_BITS


# The plugin's own noise of rows 0..4095, categories 0..10, under seeds 0, 7 and 2⁶³ + 5,
# as SHA-256 of the bits (Float64, then Float32): noise function F version 3.
NOISE_DIGESTS = {
    False: "d789c2a3d6859286d553627d1e2473f18c0d35b63960319b942ad2be5d7364cc",
    True: "b28f6736752e491f8a59539b296898c6eb55e794b6aca5608bef3ae0c2fc1898",
}


@pytest.mark.parametrize("f32", [False, True])
def test_gumbel_noise_digests_are_pinned(f32: bool) -> None:
    """Value stability over 135,168 cells of each dtype: any change to F changes these."""
    h = hashlib.sha256()
    for seed in (0, 7, 2**63 + 5):
        g = gumbel_noise(seed, list(range(4096)), 11, f32)
        h.update(np.asarray(g, dtype=np.float32 if f32 else np.float64).tobytes())
    assert h.hexdigest() == NOISE_DIGESTS[f32]


def test_gumbel_noise_equals_python_f() -> None:
    rng = np.random.default_rng(99)
    seeds = [0, 1, M64, *(int(v) for v in rng.integers(0, 2**63, 6, dtype=np.uint64))]
    rows = [0, 1, 2, 2**32, 2**63, M64, *(int(v) for v in rng.integers(0, 2**63, 20))]
    rows += [counter(k) for k in ("", "a", "é", "row-17", -1, -(2**63))]
    for seed in seeds:
        got = gumbel_noise(seed, rows, 11)
        got32 = gumbel_noise(seed, rows, 11, True)
        assert len(got) == len(got32) == len(rows)
        for r, g_row, g32_row in zip(rows, got, got32):
            want = [py_noise(seed, r, j) for j in range(11)]
            assert g_row == pytest.approx(want, rel=1e-15, abs=1e-15), (seed, r)
            want32 = [py_noise(seed, r, j, f32=True) for j in range(11)]
            assert g32_row == pytest.approx(want32, rel=4 * F32_ULP, abs=4 * F32_ULP), (seed, r)
    # The noise of (row, j) does not depend on how many categories are asked for.
    assert gumbel_noise(5, [3], 2)[0] == gumbel_noise(5, [3], 9)[0][:2]
    assert gumbel_noise(5, [3], 2, True)[0] == gumbel_noise(5, [3], 37, True)[0][:2]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_soft_outputs_are_pinned(layout: Layout) -> None:
    x = make_column([[1.0, 2.0, 3.0]] * 3, layout, pl.Float64())
    out = pl.DataFrame([x]).select(pg.gumbel_softmax("x", tau=0.5, seed=42))["x"]
    assert rows_of(out) == [pytest.approx(r, rel=1e-12, abs=1e-15) for r in SOFT_POSITIONAL]

    df = pl.DataFrame([make_column([[0.5, -1.0]] * 2, layout, pl.Float64())])
    out = df.with_columns(k=pl.Series(["alice", "bob"])).select(
        pg.gumbel_softmax("x", seed=2024, key="k")
    )["x"]
    assert rows_of(out) == [pytest.approx(r, rel=1e-12, abs=1e-15) for r in SOFT_STRING_KEY]

    df = pl.DataFrame([make_column([[0.0, 0.0, 0.0]] * 2, layout, pl.Float64())])
    out = df.with_columns(k=pl.Series([-5, 10**12])).select(
        pg.gumbel_softmax("x", tau=2.0, seed=99, key="k")
    )["x"]
    assert rows_of(out) == [pytest.approx(r, rel=1e-12, abs=1e-15) for r in SOFT_INT_KEY]

    df = pl.DataFrame([make_column([[0.0] * 4] * 12, layout, pl.Float64())])
    out = df.select(pg.gumbel_softmax("x", hard=True, seed=7))["x"]
    expected = [[1.0 if j == i else 0.0 for j in range(4)] for i in HARD_POSITIONAL]
    assert rows_of(out) == expected


# ============================================================================ reference formula


@pytest.mark.parametrize("tau", [1e-8, 0.1, 1.0, 10.0])
@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_soft_matches_reference_positional(layout: Layout, dtype_name: str, tau: float) -> None:
    rng = np.random.default_rng(31)
    width = None if layout == "list" else 6
    rows: list[list[float] | None] = list(random_rows(rng, 300, width))
    rows[3] = None
    dtype = pl.Float32() if dtype_name == "f32" else pl.Float64()
    s = make_column(rows, layout, dtype, width=width)
    out = pl.DataFrame([s]).select(pg.gumbel_softmax("x", tau=tau, seed=1234))["x"]
    assert out.dtype == s.dtype
    want = reference(rows_of(s), range(len(s)), 1234, tau, hard=False, f32=dtype_name == "f32")
    assert_rows_close(rows_of(out), want, dtype_name)


KEYS: dict[str, pl.Series] = {
    "int64": pl.Series("k", [0, -1, 5, -(2**63), 2**63 - 1, 17, 17, -123456789], pl.Int64),
    "int32": pl.Series("k", [0, -1, 5, -(2**31), 2**31 - 1, 17, 17, -7], pl.Int32),
    "int8": pl.Series("k", [0, -1, 5, -128, 127, 17, 17, -7], pl.Int8),
    "uint64": pl.Series("k", [0, 1, 2**63, M64, 2**63 + 5, 17, 17, 2**40], pl.UInt64),
    "uint8": pl.Series("k", [0, 1, 255, 128, 5, 17, 17, 9], pl.UInt8),
    "string": pl.Series("k", ["", "a", "é", "日本語", "alice", "x" * 100, "x" * 100, "b"]),
}


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("key_name", sorted(KEYS))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_keyed_matches_reference(layout: Layout, key_name: str, hard: bool) -> None:
    key = KEYS[key_name]
    rng = np.random.default_rng(8)
    width = None if layout == "list" else 5
    rows = random_rows(rng, len(key), width)
    rows[6] = rows[5]  # rows 5 and 6 share their key too
    s = make_column(rows, layout, pl.Float64(), width=width)
    expr = pg.gumbel_softmax("x", tau=0.3, seed=77, key="k", hard=hard)
    out = pl.DataFrame([s, key]).select(expr)
    counters = [counter(v) for v in key.to_list()]
    want = reference(rows_of(s), counters, 77, 0.3, hard=hard, f32=False)
    assert_rows_close(rows_of(out["x"]), want, "f64")
    # Equal keys and equal logits: equal noise, so equal outputs.
    got = rows_of(out["x"])
    assert got[5] == got[6]


def test_integer_key_equal_to_position_gives_positional_noise() -> None:
    df = logits_frame([0.1, -0.4, 2.0, 0.0], 1000).with_columns(
        k=pl.int_range(pl.len(), dtype=pl.UInt32)
    )
    positional = df.select(pg.gumbel_softmax("x", seed=3))
    keyed = df.select(pg.gumbel_softmax("x", seed=3, key="k"))
    assert_frame_equal(positional, keyed, check_exact=True)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**62])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_hard_is_one_hot_of_soft_argmax(layout: Layout, seed: int) -> None:
    rng = np.random.default_rng(seed % 1000)
    width = None if layout == "list" else 8
    rows = random_rows(rng, 400, width)
    s = make_column(rows, layout, pl.Float64(), width=width)
    df = pl.DataFrame([s])
    soft = rows_of(df.select(pg.gumbel_softmax("x", seed=seed))["x"])
    hard = rows_of(df.select(pg.gumbel_softmax("x", seed=seed, hard=True))["x"])
    for i, (p, h) in enumerate(zip(soft, hard)):
        assert p is not None
        assert h is not None
        expected = [0.0] * len(p)
        expected[int(np.argmax(p))] = 1.0
        assert h == expected, f"row {i}"
    want = reference(rows_of(s), range(len(s)), seed, 1.0, hard=True, f32=False)
    assert_rows_close(hard, want, "f64")
    # hard samples do not depend on tau: the argmax of (x + g) / tau is that of x + g.
    for tau in (1e-8, 0.25, 100.0):
        other = rows_of(df.select(pg.gumbel_softmax("x", seed=seed, hard=True, tau=tau))["x"])
        assert other == hard


@pytest.mark.parametrize("seed", [2**63 - 1, 2**63, 2**64 - 1])
@pytest.mark.parametrize("hard", [False, True])
def test_every_documented_seed_is_accepted(hard: bool, seed: int) -> None:
    """The docstring promises seeds in [0, 2**64); Python accepts them, so must Rust."""
    rows = [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]]
    df = pl.DataFrame([make_column(rows, "array", pl.Float64())])
    out = df.select(pg.gumbel_softmax("x", seed=seed, hard=hard))["x"]
    want = reference(rows, range(2), seed, 1.0, hard=hard, f32=False)
    assert_rows_close(rows_of(out), want, "f64")


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_float32_stays_float32_and_ints_become_float64(layout: Layout, hard: bool) -> None:
    rows = [[1, 0, 2], [3, 3, 3], [0, 1, 0]]
    for in_dtype, out_inner in [
        (pl.Float32(), pl.Float32()),
        (pl.Int64(), pl.Float64()),
        (pl.UInt8(), pl.Float64()),
        (pl.Int16(), pl.Float64()),
    ]:
        s = make_column(rows, layout, in_dtype)
        out = pl.DataFrame([s]).select(pg.gumbel_softmax("x", seed=9, hard=hard))["x"]
        want = make_column([[0.0] * 3] * 3, layout, out_inner).dtype
        assert out.dtype == want
        expected = reference(rows, range(3), 9, 1.0, hard=hard, f32=in_dtype == pl.Float32)
        assert_rows_close(rows_of(out), expected, "f32" if in_dtype == pl.Float32 else "f64")
        if hard:
            assert all(r is not None and sorted(r) == [0.0, 0.0, 1.0] for r in rows_of(out))


def test_mixed_struct_fields_compute_in_float64() -> None:
    df = pl.DataFrame(
        {"a": [0.5, -1.0], "b": [2, 0]}, schema={"a": pl.Float32, "b": pl.UInt16}
    ).select(x=pl.struct("a", "b"))
    out = df.select(pg.gumbel_softmax("x", seed=4, tau=0.8))["x"]
    assert out.dtype == pl.Struct({"a": pl.Float64, "b": pl.Float64})
    want = reference(rows_of(df["x"]), range(2), 4, 0.8, hard=False, f32=False)
    assert_rows_close(rows_of(out), want, "f64")


# ============================================================================ statistics


@pytest.mark.parametrize("f32", [False, True])
def test_noise_marginal_is_standard_gumbel(f32: bool) -> None:
    """KS test of each dtype's noise (Float32: 23 random bits per cell, Float64: 52)."""
    positional = np.asarray(gumbel_noise(2024, list(range(50_000)), 4, f32)).ravel()
    keys = [fnv1a64(f"id-{i}") for i in range(50_000)]
    hashed = np.asarray(gumbel_noise(2025, keys, 2, f32))
    sparse = np.asarray(gumbel_noise(2026, [i << 40 for i in range(50_000)], 2, f32))
    wide = np.asarray(gumbel_noise(2027, list(range(2_000)), 100, f32))
    for sample in (positional, hashed.ravel(), sparse.ravel(), wide.ravel()):
        assert np.isfinite(sample).all()
        assert stats.kstest(sample, "gumbel_r").pvalue > ALPHA


def test_zero_logits_log_ratio_is_logistic() -> None:
    n = 200_000
    y = logits_frame([0.0, 0.0], n).select(pg.gumbel_softmax("x", seed=11))["x"].to_numpy()
    d = np.log(y[:, 0]) - np.log(y[:, 1])
    assert np.isfinite(d).all()
    assert stats.kstest(d, "logistic").pvalue > ALPHA
    # y0 = sigmoid(g0 - g1) is then uniform on (0, 1).
    assert stats.kstest(y[:, 0], "uniform").pvalue > ALPHA


FREQUENCY_CASES: dict[str, tuple[list[float], int, Any]] = {
    "k2": ([0.3, -0.5], 200_000, np.float64),
    "k50": (np.random.default_rng(50).normal(0.0, 0.7, 50).tolist(), 200_000, np.float32),
    "skewed": ([5.0, 0.0, -2.0, -4.0, 1.0], 400_000, np.float64),
    "masked": ([1.0, -INF, 0.0, -INF, 2.0, -INF], 200_000, np.float64),
}


@pytest.mark.parametrize("tau", [1.0, 0.2])
@pytest.mark.parametrize("case", sorted(FREQUENCY_CASES))
def test_hard_frequencies_match_softmax(case: str, tau: float) -> None:
    logits, n, np_dtype = FREQUENCY_CASES[case]
    df = logits_frame(logits, n, np_dtype)
    counts = df.select(pg.gumbel_softmax("x", hard=True, tau=tau, seed=100 + len(case)))
    observed = counts["x"].to_numpy().sum(axis=0)
    assert observed.sum() == n
    x = np.asarray(logits, dtype=np_dtype).astype(np.float64)
    p = np_softmax(x, 1.0)
    finite = np.isfinite(x)
    assert (observed[~finite] == 0).all()  # -inf categories are never sampled
    expected = p[finite] * n
    assert expected.min() >= 5
    assert stats.chisquare(observed[finite], expected).pvalue > ALPHA


def test_keyed_hard_frequencies_match_softmax() -> None:
    n = 200_000
    logits = [0.0, 1.0, -1.0]
    df = logits_frame(logits, n).with_columns(k=pl.format("user-{}", pl.int_range(pl.len())))
    out = df.select(pg.gumbel_softmax("x", hard=True, seed=5, key="k"))["x"].to_numpy()
    expected = np_softmax(np.asarray(logits), 1.0) * n
    assert stats.chisquare(out.sum(axis=0), expected).pvalue > ALPHA


def test_consecutive_hard_samples_are_independent() -> None:
    n = 200_000
    df = logits_frame([0.2, 0.0, -0.3], n)
    c = np.argmax(df.select(pg.gumbel_softmax("x", hard=True, seed=21))["x"].to_numpy(), axis=1)
    table = np.zeros((3, 3))
    np.add.at(table, (c[0::2], c[1::2]), 1)
    assert stats.chi2_contingency(table).pvalue > ALPHA
    lag_one = np.zeros((3, 3))
    np.add.at(lag_one, (c[1:-1:2], c[2::2]), 1)
    assert stats.chi2_contingency(lag_one).pvalue > ALPHA


def _binned_independence(a: Floats, b: Floats, bins: int = 8) -> float:
    """Chi-square independence p-value of the Gumbel CDFs of `a` and `b`, binned."""
    ua = np.minimum((np.exp(-np.exp(-a)) * bins).astype(int), bins - 1)
    ub = np.minimum((np.exp(-np.exp(-b)) * bins).astype(int), bins - 1)
    table = np.zeros((bins, bins))
    np.add.at(table, (ua, ub), 1)
    return float(stats.chi2_contingency(table).pvalue)


@pytest.mark.parametrize("f32", [False, True])
def test_noise_is_independent_across_categories_rows_and_seeds(f32: bool) -> None:
    n = 100_000
    g = np.asarray(gumbel_noise(31337, list(range(n)), 5, f32))
    g_next_seed = np.asarray(gumbel_noise(31338, list(range(n)), 1, f32))
    pairs = {
        "category 0 / 1": (g[:, 0], g[:, 1]),
        "category 1 / 2": (g[:, 1], g[:, 2]),
        "category 0 / 3": (g[:, 0], g[:, 3]),
        "category 3 / 4, across counters": (g[:, 3], g[:, 4]),
        "row r / r + 1": (g[:-1, 0], g[1:, 0]),
        "row r / r + 1, other category": (g[:-1, 3], g[1:, 0]),
        "seed s / s + 1": (g[:, 0], g_next_seed[:, 0]),
    }
    for name, (a, b) in pairs.items():
        assert stats.pearsonr(a, b).pvalue > ALPHA, name
        assert stats.spearmanr(a, b).pvalue > ALPHA, name
        assert _binned_independence(a, b) > ALPHA, name


# ============================================================================ reproducibility

THREAD_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np, polars as pl
    import polars_gumbel as pg

    assert pl.thread_pool_size() == int(sys.argv[1]), pl.thread_pool_size()
    rng = np.random.default_rng(5)
    df = pl.DataFrame([pl.Series("x", rng.normal(size=(150_000, 5)))]).with_columns(
        k=pl.int_range(pl.len()) * 7919 - 10**9
    )
    out = df.select(
        pg.gumbel_softmax("x", seed=11, tau=0.7),
        hard=pg.gumbel_softmax("x", seed=12, hard=True, key="k"),
    )
    h = hashlib.sha256()
    for s in out.get_columns():
        h.update(np.ascontiguousarray(s.to_numpy()).tobytes())
    print(h.hexdigest())
    """
)


def _thread_digest(threads: int) -> str:
    env = {**os.environ, "POLARS_MAX_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-c", THREAD_SCRIPT, str(threads)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_seeded_results_do_not_depend_on_thread_count() -> None:
    one, two = _thread_digest(1), _thread_digest(2)
    rng = np.random.default_rng(5)
    df = pl.DataFrame([pl.Series("x", rng.normal(size=(150_000, 5)))]).with_columns(
        k=pl.int_range(pl.len()) * 7919 - 10**9
    )
    here = df.select(
        pg.gumbel_softmax("x", seed=11, tau=0.7),
        hard=pg.gumbel_softmax("x", seed=12, hard=True, key="k"),
    )
    assert one == two == digest(here)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_seeded_results_do_not_depend_on_chunks(layout: Layout) -> None:
    rng = np.random.default_rng(6)
    width = None if layout == "list" else 4
    whole = pl.DataFrame(
        [make_column(random_rows(rng, 5_000, width), layout, pl.Float64(), width=width)]
    ).with_columns(k=pl.int_range(pl.len()).cast(pl.String))
    chunked = pl.concat([whole.slice(i * 50, 50) for i in range(100)], rechunk=False)
    assert chunked["x"].n_chunks() == 100
    for expr in (
        pg.gumbel_softmax("x", seed=8, tau=0.5),
        pg.gumbel_softmax("x", seed=8, hard=True),
        pg.gumbel_softmax("x", seed=8, key="k"),
    ):
        assert_frame_equal(whole.select(expr), chunked.select(expr), check_exact=True)


@pytest.fixture(scope="module")
def big_frame() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    n = 300_000
    return pl.DataFrame([pl.Series("x", rng.normal(size=(n, 3)))]).with_columns(
        k=pl.Series(rng.permutation(n) - 150_000)
    )


def test_streaming_equals_in_memory(big_frame: pl.DataFrame) -> None:
    exprs = [
        pg.gumbel_softmax("x", seed=13).alias("positional"),
        pg.gumbel_softmax("x", seed=14, hard=True).alias("hard"),
        pg.gumbel_softmax("x", seed=15, key="k", tau=0.4).alias("keyed"),
    ]
    lf = big_frame.lazy().with_columns(exprs)
    in_memory = lf.collect()
    streaming = lf.collect(engine="streaming")
    assert_frame_equal(in_memory, streaming, check_exact=True)
    # The positional noise really is per row: no two rows share it.
    positional = in_memory["positional"].to_numpy()
    assert len(np.unique(positional, axis=0)) == len(positional)


@pytest.mark.parametrize("key_dtype", [pl.Int64(), pl.String()], ids=str)
def test_keyed_results_do_not_depend_on_partitioning(key_dtype: pl.DataType) -> None:
    rng = np.random.default_rng(12)
    n = 50_000
    keys = rng.choice(2 * 10**9, n, replace=False) - 10**9
    df = pl.DataFrame([pl.Series("x", rng.normal(size=(n, 4)))]).with_columns(
        k=pl.Series(keys).cast(key_dtype)
    )
    expr = [
        pg.gumbel_softmax("x", seed=42, key="k", tau=0.5).alias("soft"),
        pg.gumbel_softmax("x", seed=43, key="k", hard=True).alias("hard"),
    ]
    whole = df.with_columns(expr).sort("k")
    shuffled = df[rng.permutation(n)]
    cuts = np.sort(rng.choice(np.arange(1, n), 6, replace=False))
    parts = [
        shuffled.slice(int(lo), int(hi - lo)).with_columns(expr)
        for lo, hi in zip([0, *cuts], [*cuts, n])
    ]
    assert len(parts) == 7
    together = pl.concat(parts).sort("k")
    assert_frame_equal(whole, together, check_exact=True)
    # The key, not the position, drives the noise.
    positional = df.with_columns(pg.gumbel_softmax("x", seed=42, tau=0.5).alias("soft"))
    assert not positional.sort("k")["soft"].equals(whole["soft"])


def test_unseeded_evaluations_differ() -> None:
    df = logits_frame([0.0, 0.0, 0.0], 1_000)
    first = df.select(pg.gumbel_softmax("x"))
    second = df.select(pg.gumbel_softmax("x"))
    assert not first.equals(second)
    both = df.select(a=pg.gumbel_softmax("x"), b=pg.gumbel_softmax("x"))
    assert not both["a"].equals(both["b"])
    hard = df.select(a=pg.gumbel_softmax("x", hard=True), b=pg.gumbel_softmax("x", hard=True))
    assert not hard["a"].equals(hard["b"])
    lazy = df.lazy().select(a=pg.gumbel_softmax("x"), b=pg.gumbel_softmax("x")).collect()
    assert not lazy["a"].equals(lazy["b"])


def test_unseeded_streaming_batches_do_not_repeat_noise() -> None:
    n = 300_000
    batches: list[int] = []

    def count(s: pl.Series) -> pl.Series:
        batches.append(len(s))
        return s

    lf = (
        logits_frame([0.0, 0.0, 0.0], n)
        .with_row_index("i")
        .lazy()
        .select(
            pg.gumbel_softmax("x"),
            pl.col("i").map_batches(count, return_dtype=pl.UInt32, is_elementwise=True),
        )
    )
    out = lf.collect(engine="streaming")["x"].to_numpy()
    assert len(batches) > 1, "the streaming engine did not split the frame into batches"
    assert out.shape == (n, 3)
    assert len(np.unique(out, axis=0)) == n
    # And the draws are a fair sample: each category wins a third of the time.
    wins = np.bincount(np.argmax(out, axis=1), minlength=3)
    assert stats.chisquare(wins).pvalue > ALPHA


# ============================================================================ special values


@pytest.mark.parametrize("tau", [0.0, -0.0, -1.0, -INF, INF, NAN])
def test_bad_tau_is_a_value_error(tau: float) -> None:
    with pytest.raises(ValueError, match="tau must be finite and > 0"):
        pg.gumbel_softmax("x", tau=tau)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"tau": "1"}, TypeError),
        ({"hard": 1}, TypeError),
        ({"seed": -1}, ValueError),
        ({"seed": 2**64}, ValueError),
        ({"seed": 1.5}, TypeError),
        ({"seed": True}, TypeError),
    ],
)
def test_bad_options_are_rejected_in_python(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        pg.gumbel_softmax("x", **kwargs)


@pytest.mark.parametrize("tau", [0.0, -1.0])
def test_bad_tau_is_rejected_in_rust(tau: float) -> None:
    df = logits_frame([0.0, 1.0], 3)
    expr = _plugin("gumbel_softmax", [pl.col("x")], {"tau": tau, "hard": False, "seed": 1})
    with pytest.raises(pl.exceptions.ComputeError, match="tau must be finite and > 0"):
        df.select(expr)


def test_null_key_is_an_error() -> None:
    df = logits_frame([0.0, 1.0], 3).with_columns(k=pl.Series([1, None, 3]))
    with pytest.raises(pl.exceptions.ComputeError, match="null"):
        df.select(pg.gumbel_softmax("x", seed=1, key="k"))


def test_float_key_is_an_error() -> None:
    df = logits_frame([0.0, 1.0], 3).with_columns(k=pl.Series([1.0, 2.0, 3.0]))
    with pytest.raises(pl.exceptions.PolarsError, match="key"):
        df.select(pg.gumbel_softmax("x", seed=1, key="k"))


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau", [1e-8, 1e-3, 1.0, 1e8])
@pytest.mark.parametrize(("dtype_name", "big"), [("f64", 1e300), ("f64", 1.7e308), ("f32", 3e38)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_extreme_finite_logits_give_valid_rows(
    layout: Layout, dtype_name: str, big: float, tau: float, hard: bool
) -> None:
    rows = [
        [big, -big, 0.0],
        [-big, -big, -big],
        [big, big, big],
        [big, -INF, -big],
        [1e-300, -1e-300, 0.0],
        [-big, 0.0, -INF],
    ]
    dtype = pl.Float32() if dtype_name == "f32" else pl.Float64()
    s = make_column(rows, layout, dtype)
    out = rows_of(pl.DataFrame([s]).select(pg.gumbel_softmax("x", tau=tau, seed=3, hard=hard))["x"])
    atol = TOLERANCE[dtype_name][1]
    for i, row in enumerate(out):
        assert row is not None, f"row {i} ({rows[i]}) is null"
        values = np.asarray(row, dtype=np.float64)
        assert np.isfinite(values).all(), f"row {i}: {row}"
        assert ((values >= 0.0) & (values <= 1.0)).all(), f"row {i}: {row}"
        assert abs(values.sum() - 1.0) <= atol, f"row {i}: {row}"
        for j, x in enumerate(rows[i]):
            if x == -INF:
                assert values[j] == 0.0
    want = reference(rows_of(s), range(len(s)), 3, tau, hard=hard, f32=dtype_name == "f32")
    assert_rows_close(out, want, dtype_name)


@pytest.mark.parametrize("tau", [1e-50, 1e300])
@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tau_outside_float32_range(layout: Layout, dtype_name: str, tau: float) -> None:
    """Any finite tau > 0 is valid (DESIGN §3), also for Float32 blocks."""
    rows = [[1.0, -INF, 0.5], [2.0, 2.0, -INF], [0.0, -1.0, 3.0]]
    dtype = pl.Float32() if dtype_name == "f32" else pl.Float64()
    s = make_column(rows, layout, dtype)
    out = rows_of(pl.DataFrame([s]).select(pg.gumbel_softmax("x", tau=tau, seed=3))["x"])
    want = reference(rows_of(s), range(3), 3, tau, hard=False, f32=dtype_name == "f32")
    assert_rows_close(out, want, dtype_name)
    for row in out:
        assert row is not None
        assert np.isfinite(row).all()
        assert abs(sum(row) - 1.0) <= TOLERANCE[dtype_name][1]


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dtype_name", ["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_special_rows_are_null(layout: Layout, dtype_name: str, hard: bool) -> None:
    rows: list[list[Value] | None] = [
        [1.0, 2.0, 3.0],
        [NAN, 0.0, 1.0],
        [INF, 0.0, 1.0],
        [-INF, -INF, -INF],
        None,
        [1.0, None, 2.0],
        [-INF, 0.0, -INF],
    ]
    dtype = pl.Float32() if dtype_name == "f32" else pl.Float64()
    s = make_column(rows, layout, dtype, width=3)
    out = rows_of(pl.DataFrame([s]).select(pg.gumbel_softmax("x", seed=2, hard=hard))["x"])
    assert [r is None for r in out] == [False, True, True, True, True, True, False]
    assert out[6] == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_category_is_certain(layout: Layout, hard: bool) -> None:
    s = make_column([[5.0], [-1e300], [0.0]], layout, pl.Float64())
    out = pl.DataFrame([s]).select(pg.gumbel_softmax("x", seed=1, hard=hard, tau=1e-8))["x"]
    assert rows_of(out) == [[1.0], [1.0], [1.0]]


@pytest.mark.parametrize("seed", [None, 1])
def test_empty_list_is_null(seed: int | None) -> None:
    s = make_column([[], [0.0, 0.0], [], None], "list", pl.Float64())
    out = pl.DataFrame([s]).select(pg.gumbel_softmax("x", seed=seed))["x"]
    assert out.dtype == pl.List(pl.Float64)
    assert out.is_null().to_list() == [True, False, True, True]


def test_noise_is_finite_over_many_cells() -> None:
    """DESIGN §4: uniforms in (0, 1), noise never ±inf (the extreme words themselves are
    checked in `rng`'s unit tests)."""
    for f32 in (False, True):
        g = np.asarray(gumbel_noise(77, list(range(20_000)), 50, f32))
        assert np.isfinite(g).all()
        assert g.min() > -4.0
        assert g.max() < 40.0


# ============================================================================ properties

SPECIAL_F64 = [0.0, -0.0, 1.0, -1.0, 1e300, -1e300, 5e-324, INF, -INF, NAN]
SPECIAL_F32 = [0.0, -0.0, 1.0, -1.0, 3e38, -3e38, 1e-45, INF, -INF, NAN]
KeyKind = Literal["none", "int", "str"]
Case = tuple[Layout, str, list[Optional[list[Value]]], float, bool, int, KeyKind, int, bool]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    layout: Layout = draw(st.sampled_from(LAYOUTS))
    dtype_name = draw(st.sampled_from(["f64", "f32", "i32"]))
    value: st.SearchStrategy[Value]
    if dtype_name == "f64":
        value = st.one_of(st.floats(-1e6, 1e6), st.sampled_from(SPECIAL_F64))
    elif dtype_name == "f32":
        value = st.one_of(st.floats(-1e6, 1e6, width=32), st.sampled_from(SPECIAL_F32))
    else:
        value = st.integers(-(2**31), 2**31 - 1)
    element = st.one_of(value, st.none()) if draw(st.booleans()) else value
    width = draw(st.integers(1, 6))
    row_len = st.integers(0, 6) if layout == "list" else st.just(width)
    block = row_len.flatmap(lambda k: st.lists(element, min_size=k, max_size=k))
    rows = draw(st.lists(st.one_of(st.none(), block), max_size=12))
    tau = draw(st.sampled_from([1e-8, 1e-3, 0.5, 1.0, 7.0, 1e8]))
    hard = draw(st.booleans())
    seed = draw(st.integers(0, M64))
    key_kind: KeyKind = draw(st.sampled_from(["none", "int", "str"]))
    offset = draw(st.integers(0, 3))
    split = draw(st.booleans())
    return layout, dtype_name, rows, tau, hard, seed, key_kind, offset, split


DTYPES: dict[str, pl.DataType] = {"f64": pl.Float64(), "f32": pl.Float32(), "i32": pl.Int32()}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
@example(case=("array", "f64", [[1.0, 1.0, 1.0]], 1.0, True, 0, "none", 0, False))  # ties
@example(case=("struct", "f64", [[3.0]], 1e-8, False, 1, "int", 0, False))  # K = 1
@example(case=("list", "f64", [[], [1.0], []], 1.0, False, 2, "str", 2, True))  # K = 0
@example(case=("list", "f32", [None, None], 1.0, True, 3, "none", 1, False))  # all null
@example(case=("array", "f64", [[-INF, -INF]], 1.0, False, 4, "none", 0, False))  # all -inf
@example(case=("list", "f32", [[NAN, 1.0]], 1.0, False, 5, "int", 0, False))  # NaN
@example(case=("array", "f32", [[INF, 0.0]], 1.0, True, 6, "none", 3, True))  # +inf
@example(case=("array", "f64", [[1e300, -1e300, 0.0]], 1e-8, False, M64, "none", 0, False))
@example(case=("list", "f64", [[1.0, 2.0, -INF]], 1e8, False, 7, "str", 0, False))  # huge tau
@example(case=("struct", "f64", [[1.0, None]], 1.0, False, 8, "none", 1, True))  # null element
@example(case=("struct", "i32", [[2**31 - 1, -(2**31)]], 1e-8, True, 9, "int", 0, True))
def test_property_matches_reference(case: Case) -> None:
    layout, dtype_name, rows, tau, hard, seed, key_kind, offset, split = case
    given_rows = [r for r in rows if r is not None]
    width = len(given_rows[0]) if given_rows and layout != "list" else 2
    padding: list[list[Value] | None] = [[1] * width] * offset
    n = offset + len(rows)
    keys: pl.Series
    if key_kind == "str":
        keys = pl.Series("k", [f"key-{i * 7 % 5}" for i in range(n)], dtype=pl.String)
    else:
        keys = pl.Series("k", [(i * 2**59 + 3) * (-1) ** i for i in range(n)], dtype=pl.Int64)
    df = pl.DataFrame([make_column(padding + rows, layout, DTYPES[dtype_name], width=width), keys])
    df = df.slice(offset)
    if split and len(df) > 1:
        df = pl.concat([df.slice(0, len(df) // 2), df.slice(len(df) // 2)], rechunk=False)
    key = None if key_kind == "none" else "k"
    out = df.select(pg.gumbel_softmax("x", tau=tau, hard=hard, seed=seed, key=key))["x"]
    counters = range(len(df)) if key is None else [counter(v) for v in df["k"].to_list()]
    f32 = dtype_name == "f32"
    want = reference(rows_of(df["x"]), counters, seed, tau, hard=hard, f32=f32)
    assert_rows_close(rows_of(out), want, "f32" if f32 else "f64")


# ============================================================================ lazy plans


def _lazy_frame() -> pl.DataFrame:
    rng = np.random.default_rng(17)
    n = 6_000
    return pl.DataFrame(
        [
            pl.Series("a", rng.normal(size=(n, 4))),
            pl.Series("s", rng.normal(size=(n, 3)).astype(np.float32)),
        ]
    ).with_columns(
        s=pl.col("s").arr.to_struct(["s_0", "s_1", "s_2"]),
        l=pl.col("a").arr.head(2).cast(pl.List(pl.Float64)),
        g=pl.Series(rng.integers(0, 5, n)),
        k=pl.Series(rng.permutation(n) * 3 - 5_000),
    )


def _exprs() -> list[pl.Expr]:
    return [
        pg.gumbel_softmax("a", seed=1, tau=0.5).alias("a_soft"),
        pg.gumbel_softmax("s", seed=2, hard=True).alias("s_hard"),
        pg.gumbel_softmax("l", seed=3, key="k").alias("l_keyed"),
    ]


def test_schema_is_known_before_data() -> None:
    schema: dict[str, pl.DataType] = {
        "a": pl.Array(pl.Float64, 4),
        "a32": pl.Array(pl.Float32, 2),
        "ai": pl.Array(pl.Int8, 3),
        "s": pl.Struct({"p": pl.Float32, "q": pl.Float32}),
        "si": pl.Struct({"p": pl.Int64, "q": pl.Float32}),
        "l": pl.List(pl.Float32),
        "li": pl.List(pl.UInt16),
        "k": pl.String(),
    }
    lf = pl.LazyFrame(schema=schema).select(
        pg.gumbel_softmax("a", seed=1),
        pg.gumbel_softmax("a32", hard=True),
        pg.gumbel_softmax("ai", seed=1, key="k"),
        pg.gumbel_softmax("s", tau=0.1),
        pg.gumbel_softmax("si", seed=2, hard=True),
        pg.gumbel_softmax("l", seed=3, key="k"),
        pg.gumbel_softmax("li"),
    )
    expected = pl.Schema(
        {
            "a": pl.Array(pl.Float64, 4),
            "a32": pl.Array(pl.Float32, 2),
            "ai": pl.Array(pl.Float64, 3),
            "s": pl.Struct({"p": pl.Float32, "q": pl.Float32}),
            "si": pl.Struct({"p": pl.Float64, "q": pl.Float64}),
            "l": pl.List(pl.Float32),
            "li": pl.List(pl.Float64),
        }
    )
    assert lf.collect_schema() == expected
    assert lf.collect().schema == expected


def test_lazy_streaming_and_parquet_sink_agree_with_eager(tmp_path: Path) -> None:
    df = _lazy_frame()
    eager = df.select(_exprs())
    lf = df.lazy().select(_exprs())
    assert_frame_equal(lf.collect(), eager, check_exact=True)
    assert_frame_equal(lf.collect(engine="streaming"), eager, check_exact=True)

    source = tmp_path / "in.parquet"
    sink = tmp_path / "out.parquet"
    df.write_parquet(source)
    pl.scan_parquet(source).select(_exprs()).sink_parquet(sink)
    assert_frame_equal(pl.read_parquet(sink), eager, check_exact=True)


def test_serialized_plan_agrees_with_eager() -> None:
    df = _lazy_frame()
    eager = df.select(_exprs())
    plan = df.lazy().select(_exprs()).serialize()
    restored = pl.LazyFrame.deserialize(io.BytesIO(plan))
    assert_frame_equal(restored.collect(), eager, check_exact=True)


def test_over_agrees_with_per_group_eager() -> None:
    df = _lazy_frame()
    positional = pg.gumbel_softmax("a", seed=1, tau=0.5)
    keyed = pg.gumbel_softmax("l", seed=3, key="k")
    out = df.select(pos=positional.over("g"), keyed=keyed.over("g"))
    # Keyed noise does not care about the window.
    assert_series_equal(out["keyed"], df.select(keyed)["l"].alias("keyed"), check_exact=True)
    # Positional noise counts rows within each window.
    for g in df["g"].unique().to_list():
        mask = df["g"] == g
        want = df.filter(mask).select(positional)["a"].alias("pos")
        assert_series_equal(out.filter(mask)["pos"], want, check_exact=True)


def test_group_by_agg_agrees_with_per_group_eager() -> None:
    df = _lazy_frame()
    positional = pg.gumbel_softmax("a", seed=1, tau=0.5)
    keyed = pg.gumbel_softmax("l", seed=3, key="k")
    out = df.group_by("g", maintain_order=True).agg(positional, keyed)
    keyed_whole = df.with_columns(keyed)
    for g, pos_rows, keyed_rows in out.iter_rows():
        group = df.filter(pl.col("g") == g)
        assert pos_rows == group.select(positional)["a"].to_list()
        assert keyed_rows == keyed_whole.filter(pl.col("g") == g)["l"].to_list()
    lazy = df.lazy().group_by("g", maintain_order=True).agg(positional, keyed).collect()
    assert_frame_equal(lazy, out, check_exact=True)


def _simd_digest(build: str) -> tuple[str, str]:
    """The build a subprocess took and the digest of the seeded outputs it computed, with
    one build of the kernels: "best" (AVX-512 where the CPU has it), "avx2" or
    "portable"."""
    code = """
import hashlib, numpy as np, polars as pl, polars_gumbel as pg
from polars_gumbel._internal import simd_build
x = np.random.default_rng(3).standard_normal((5000, 7))
x[::17, 2] = -np.inf
h = hashlib.sha256()
for dt in (pl.Float32, pl.Float64):
    df = pl.DataFrame({"x": x}, schema={"x": pl.Array(dt, 7)})
    out = df.select(
        a=pg.gumbel_softmax("x", tau=0.3, seed=11),
        b=pg.gumbel_softmax("x", hard=True, seed=11),
        c=pg.softmax("x", tau=2.0),
        d=pg.log_softmax("x"),
        e=pg.argmax("x"),
        f=pg.decode("x", list("abcdefg"), method="sample", seed=5),
    )
    for s in out.get_columns():
        h.update(s.to_arrow().to_string().encode() if s.dtype == pl.String
                 else np.ascontiguousarray(s.to_numpy()).tobytes())
# argmax, decode and Gumbel-Softmax at widths on both sides of the eight-lane kernels,
# on rows with ties, zeros, NaN and infinities, from Array, Struct and List blocks.
rng = np.random.default_rng(4)
for k in range(1, 65):
    y = rng.integers(-2, 3, size=(203, k)).astype(np.float64)
    y[::7] = 0.0
    y[3::11, k // 2] = np.nan
    y[5::13, k - 1] = np.inf
    y[6::17] = -np.inf
    for dt in (pl.Float32, pl.Float64):
        arr = pl.DataFrame({"x": y}, schema={"x": pl.Array(dt, k)})
        fields = [f"x_{j}" for j in range(k)]
        st = pl.DataFrame(y, schema={f: dt for f in fields}).select(pl.struct(fields).alias("x"))
        lst = arr.select(pl.col("x").cast(pl.List(dt)))
        for df in (arr, st, lst):
            out = df.select(
                a=pg.argmax("x"),
                b=pg.decode("x", fields).cast(pl.String),
                c=pg.decode("x", fields, method="sample", seed=9, tau=0.7).cast(pl.String),
                d=pg.gumbel_softmax("x", seed=3, tau=0.4),
                e=pg.gumbel_softmax("x", seed=3, hard=True),
            )
            h.update(str(out.rows()).encode())
print(simd_build(), h.hexdigest())
"""
    env = dict(os.environ)
    env.pop("POLARS_GUMBEL_BASELINE_SIMD", None)
    env.pop("POLARS_GUMBEL_NO_AVX512", None)
    if build == "avx2":
        env["POLARS_GUMBEL_NO_AVX512"] = "1"
    elif build == "portable":
        env["POLARS_GUMBEL_BASELINE_SIMD"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    name, digest = done.stdout.split()
    return name, digest


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return {w for line in f if line.startswith("flags") for w in line.split()}
    except OSError:
        return set()


def test_vector_builds_give_the_same_bits() -> None:
    """The AVX-512, AVX2 and portable builds of the kernels agree bit for bit: every
    operation, the fused multiply-add included, is correctly rounded on each."""
    flags = _cpu_flags()
    avx2 = {"avx2", "fma"} <= flags
    avx512 = avx2 and {"avx512f", "avx512vl", "avx512dq", "avx512bw"} <= flags
    best_name, best = _simd_digest("best")
    avx2_name, avx2_digest = _simd_digest("avx2")
    portable_name, portable = _simd_digest("portable")
    # Each run took the build it was asked for, where the CPU has it.
    assert best_name == ("avx512" if avx512 else "avx2" if avx2 else "portable")
    assert avx2_name == ("avx2" if avx2 else "portable")
    assert portable_name == "portable"
    assert avx2_digest == best
    assert portable == best
