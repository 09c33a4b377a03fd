"""`softmax` and `log_softmax` against a numpy reference (DESIGN §2, §3, §5).

Every expected value comes from the stable numpy reference below, computed from the
values read back from the input column, never from the plugin's own output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, Optional, Union

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import polars_gumbel as pg
from polars_gumbel._plugin import _plugin

Layout = Literal["struct", "array", "list"]
Value = Optional[Union[float, int]]
Row = Optional[Sequence[Value]]
Floats = npt.NDArray[np.float64]

LAYOUTS: tuple[Layout, ...] = ("struct", "array", "list")
INF = math.inf
NAN = math.nan
TAUS = (1e-8, 0.1, 1.0, 10.0)
# (rtol, atol) of each output dtype: DESIGN §5.
TOLERANCE: dict[pl.DataType, tuple[float, float]] = {
    pl.Float64(): (1e-12, 1e-12),
    pl.Float32(): (1e-6, 1e-6),
}
INT_DTYPES: tuple[pl.DataType, ...] = (
    pl.Int8(),
    pl.Int16(),
    pl.Int32(),
    pl.Int64(),
    pl.UInt8(),
    pl.UInt16(),
    pl.UInt32(),
    pl.UInt64(),
)

SoftmaxFn = Callable[..., pl.Expr]
FUNCTIONS: dict[str, tuple[SoftmaxFn, bool]] = {
    "softmax": (pg.softmax, False),
    "log_softmax": (pg.log_softmax, True),
}


# --------------------------------------------------------------------------- helpers


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


def reference(row: Sequence[Any] | None, tau: float, *, log: bool) -> Floats | None:
    """Stable numpy (log-)softmax of ``row / tau``; ``None`` where DESIGN §5 wants null."""
    if row is None or any(v is None for v in row):
        return None
    x = np.asarray(row, dtype=np.float64)
    if x.size == 0 or np.isnan(x).any() or np.isposinf(x).any() or np.isneginf(x).all():
        return None
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        z = (x - x.max()) / tau
        if log:
            out: Floats = z - np.log(np.exp(z).sum())
        else:
            e = np.exp(z)
            out = e / e.sum()
    return out


def assert_rows_close(
    got: Sequence[Sequence[Any] | None],
    want: Sequence[Floats | None],
    out_dtype: pl.DataType,
) -> None:
    rtol, atol = TOLERANCE[out_dtype]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"row {i}: expected a null row, got {g}"
            continue
        assert g is not None, f"row {i}: expected {w.tolist()}, got a null row"
        if out_dtype == pl.Float32:
            # The exact result rounded to Float32 (values beyond its range become inf).
            with np.errstate(over="ignore"):
                w = w.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(
            np.asarray(g, dtype=np.float64), w, rtol=rtol, atol=atol, err_msg=f"row {i}"
        )


def run(fn: SoftmaxFn, s: pl.Series, tau: float) -> pl.Series:
    return pl.DataFrame([s]).select(fn("x", tau=tau))["x"]


def compute_dtype(dtype: pl.DataType) -> pl.DataType:
    """DESIGN §2: Float32 blocks stay Float32, every other numeric block becomes Float64."""
    if isinstance(dtype, pl.Struct):
        inner = {f.dtype for f in dtype.fields}
    else:
        assert isinstance(dtype, (pl.List, pl.Array))
        inner = {dtype.inner}
    return pl.Float32() if inner == {pl.Float32()} else pl.Float64()


def same_layout(dtype: pl.DataType, value: pl.DataType) -> pl.DataType:
    """The block dtype `dtype` with its values changed to `value`."""
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: value for f in dtype.fields})
    if isinstance(dtype, pl.Array):
        return pl.Array(value, dtype.shape)
    return pl.List(value)


def check(s: pl.Series, fn_name: str, tau: float) -> pl.Series:
    """Evaluate `fn_name` on `s` and compare every row with the numpy reference."""
    fn, log = FUNCTIONS[fn_name]
    out = run(fn, s, tau)
    out_dtype = compute_dtype(s.dtype)
    assert out.dtype == same_layout(s.dtype, out_dtype)
    assert out.name == "x"
    assert len(out) == len(s)
    want = [reference(r, tau, log=log) for r in rows_of(s)]
    assert_rows_close(rows_of(out), want, out_dtype)
    return out


def random_rows(
    rng: np.random.Generator, n: int, width: int | None, *, mask: float = 0.15
) -> list[list[float]]:
    """Rows of N(0, 5²) scores with a fraction `mask` of ``-inf`` entries.

    ``width=None`` gives lengths 1..10 varying per row (the List layout).
    """
    rows = []
    for _ in range(n):
        k = int(rng.integers(1, 11)) if width is None else width
        x = rng.normal(0.0, 5.0, k)
        x[rng.random(k) < mask] = -np.inf
        rows.append(x.tolist())
    return rows


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("tau", TAUS)
@pytest.mark.parametrize("dtype", [pl.Float64(), pl.Float32()], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_numpy_on_random_blocks(
    layout: Layout, dtype: pl.DataType, tau: float, fn_name: str
) -> None:
    rng = np.random.default_rng(20240611)
    rows: list[list[float] | None] = list(random_rows(rng, 300, None if layout == "list" else 7))
    rows[5] = None
    s = make_column(rows, layout, dtype, width=None if layout == "list" else 7)
    out = check(s, fn_name, tau)
    assert out.dtype == s.dtype  # same layout, same float dtype
    assert rows_of(out)[5] is None


EXTREME_F64: list[list[float]] = [
    [1e300, -1e300, 0.0],
    [-1e300, -1e300, -1e300],
    [1e300, 1e300, -INF],
    [-INF, 1e300, -1e300],
    [1e300, 9.999999999999999e299, 1e299],
    [-1e300, -INF, -INF],
    [5e-324, -5e-324, 0.0],
    [1e-300, 2e-300, -INF],
]
EXTREME_F32: list[list[float]] = [
    [3e38, -3e38, 0.0],
    [-3e38, -3e38, -3e38],
    [3e38, 3e38, -INF],
    [-INF, 1e30, -1e30],
    [1e-45, -1e-45, 0.0],
    [-3e38, -INF, -INF],
]


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("tau", [1e-8, 1e-3, 1.0, 1e3])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("dtype", "rows"),
    [(pl.Float64(), EXTREME_F64), (pl.Float32(), EXTREME_F32)],
    ids=["f64", "f32"],
)
def test_matches_numpy_on_extreme_blocks(
    dtype: pl.DataType, rows: list[list[float]], layout: Layout, tau: float, fn_name: str
) -> None:
    out = check(make_column(rows, layout, dtype), fn_name, tau)
    atol = TOLERANCE[dtype][1]
    for row in rows_of(out):
        assert row is not None
        values = np.asarray(row, dtype=np.float64)
        if fn_name == "softmax":
            assert np.isfinite(values).all()
            assert ((values >= 0.0) & (values <= 1.0)).all()
            assert abs(values.sum() - 1.0) <= atol
        else:
            assert not np.isnan(values).any()
            assert (values <= 0.0).all()


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("tau", [1e-50, 1e300])
@pytest.mark.parametrize("dtype", [pl.Float64(), pl.Float32()], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tau_outside_float32_range(
    layout: Layout, dtype: pl.DataType, tau: float, fn_name: str
) -> None:
    """Any finite tau > 0 is valid (DESIGN §3, §5), also for Float32 blocks.

    1e-50 and 1e300 are finite doubles beyond Float32's range: a Float32 block must
    still give the limits (one-hot of the maximum, uniform over the finite scores).
    """
    rows = [[1.0, -INF, 0.5], [2.0, 2.0, -INF], [0.0, -1.0, 3.0]]
    out = rows_of(check(make_column(rows, layout, dtype), fn_name, tau))
    if fn_name == "softmax":
        if tau < 1:
            assert out == [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
        else:
            assert out[0] == [0.5, 0.0, 0.5]
            assert out[1] == [0.5, 0.5, 0.0]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_neg_inf_scores_get_probability_exactly_zero(layout: Layout) -> None:
    rows = [[0.0, -INF, 1.0, -INF], [-INF, -INF, 3.0, -INF]]
    out = rows_of(run(pg.softmax, make_column(rows, layout, pl.Float64()), 1.0))
    log_out = rows_of(run(pg.log_softmax, make_column(rows, layout, pl.Float64()), 1.0))
    e = math.e
    assert out == [
        pytest.approx([1 / (1 + e), 0.0, e / (1 + e), 0.0], rel=1e-15),
        [0.0, 0.0, 1.0, 0.0],
    ]
    assert out[0] is not None
    assert out[0][1] == out[0][3] == 0.0
    assert log_out[1] == [-INF, -INF, 0.0, -INF]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ties_give_uniform_probabilities(layout: Layout) -> None:
    rows = [[2.5] * 4, [-7.0] * 4]
    out = rows_of(run(pg.softmax, make_column(rows, layout, pl.Float64()), 0.3))
    assert out == [[0.25] * 4, [0.25] * 4]


@pytest.mark.parametrize("tau", [1.0, 0.37, 4.0])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_float32_log_softmax_is_within_two_ulps(layout: Layout, tau: float) -> None:
    """Rows whose exponentials are exact: `m` ties at the maximum (each e^0 = 1) and
    scores at least 90 tau below it (e^z = 0 in Float32, below -87), so the sum is `m`.
    Every output is then within 2 units in the last place of the exact (x - max) / tau
    - ln m, computed in Float64 from the same Float32 scores."""
    rng = np.random.default_rng(7)
    for width in [1, 2, 3, 7, 8, 9, 16, 17, 64]:
        rows = []
        for _ in range(40):
            top = np.float32(rng.uniform(-1e3, 1e3))
            ties = int(rng.integers(1, width + 1))
            below = top - np.float32(tau) * rng.uniform(90.0, 3e3, width - ties)
            row = np.concatenate([np.full(ties, top), below]).astype(np.float32)
            rows.append(rng.permutation(row).tolist())
        s = make_column(rows, layout, pl.Float32())
        out = np.array(rows_of(run(pg.log_softmax, s, tau)), dtype=np.float32)
        x = np.array(rows, dtype=np.float64)
        m = (x == x.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)
        exact = (x - x.max(axis=1, keepdims=True)) / tau - np.log(m)
        ulps = np.abs(out.view(np.int32).astype(np.int64) - exact.astype(np.float32).view(np.int32))
        # `exact` rounded to Float32 is the float nearest it, so an output within 2 ulps
        # of `exact` is at most 2 floats away from that one.
        assert ulps.max() <= 2, (width, ulps.max())


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_integer_scores_give_float64(layout: Layout, dtype: pl.DataType, fn_name: str) -> None:
    high = 200 if dtype == pl.UInt8 else 100
    low = 0 if str(dtype).startswith("UInt") else -100
    rows = [[low, high, 3], [1, 1, 2], [high, low, 0]]
    s = make_column(rows, layout, dtype)
    out = check(s, fn_name, 2.0)
    expected_inner = pl.Float64()
    if layout == "list":
        assert out.dtype == pl.List(expected_inner)
    elif layout == "array":
        assert out.dtype == pl.Array(expected_inner, 3)
    else:
        assert out.dtype == pl.Struct(dict.fromkeys(["x_0", "x_1", "x_2"], expected_inner))


def test_uint64_beyond_int64_range() -> None:
    big = 2**64 - 1
    rows = [[big, big - 2048, 0]]
    check(make_column(rows, "array", pl.UInt64()), "softmax", 1e16)
    check(make_column(rows, "array", pl.UInt64()), "log_softmax", 1e16)


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
def test_output_schema_is_known_before_data(fn: SoftmaxFn) -> None:
    schema = {
        "s32": pl.Struct({"a": pl.Float32, "b": pl.Float32}),
        "smix": pl.Struct({"a": pl.Float32, "b": pl.Int32}),
        "si": pl.Struct({"a": pl.Int64, "b": pl.UInt8}),
        "a32": pl.Array(pl.Float32, 5),
        "a64": pl.Array(pl.Float64, 5),
        "ai": pl.Array(pl.Int16, 2),
        "l32": pl.List(pl.Float32),
        "li": pl.List(pl.UInt32),
    }
    lf = pl.LazyFrame(schema=schema).select(fn(name) for name in schema)
    assert lf.collect_schema() == pl.Schema(
        {
            "s32": pl.Struct({"a": pl.Float32, "b": pl.Float32}),
            "smix": pl.Struct({"a": pl.Float64, "b": pl.Float64}),
            "si": pl.Struct({"a": pl.Float64, "b": pl.Float64}),
            "a32": pl.Array(pl.Float32, 5),
            "a64": pl.Array(pl.Float64, 5),
            "ai": pl.Array(pl.Float64, 2),
            "l32": pl.List(pl.Float32),
            "li": pl.List(pl.Float64),
        }
    )
    # The collected (empty) frame has the schema announced before any data.
    assert lf.collect().schema == lf.collect_schema()


def test_mixed_struct_is_computed_in_float64() -> None:
    df = pl.DataFrame(
        {"a": [1.5, 0.25], "b": [3, -2]}, schema={"a": pl.Float32, "b": pl.Int32}
    ).select(x=pl.struct("a", "b"))
    check(df["x"], "softmax", 0.7)
    check(df["x"], "log_softmax", 0.7)


# --------------------------------------------------------------------------- special rows


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", [pl.Float64(), pl.Float32()], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_special_rows_are_null(layout: Layout, dtype: pl.DataType, fn_name: str) -> None:
    rows: list[list[Value] | None] = [
        [1.0, 2.0, 3.0],  # valid
        [NAN, 0.0, 1.0],  # NaN → null
        [INF, 0.0, 1.0],  # +inf → null
        [-INF, -INF, -INF],  # all -inf → null
        None,  # null row → null
        [1.0, None, 2.0],  # null element → null row
        [-INF, 0.0, -INF],  # valid, one finite score
        [INF, NAN, -INF],
    ]
    out = rows_of(check(make_column(rows, layout, dtype, width=3), fn_name, 1.0))
    assert [r is None for r in out] == [False, True, True, True, True, True, False, True]


@pytest.mark.parametrize("dtype", [pl.Float64(), pl.Float32(), pl.Int64()], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_category(layout: Layout, dtype: pl.DataType) -> None:
    lowest = -3e38 if dtype == pl.Float32 else -1e300
    rows = [[5], [-3], [0]] if dtype == pl.Int64 else [[5.0], [lowest], [-INF]]
    s = make_column(rows, layout, dtype)
    soft = rows_of(run(pg.softmax, s, 0.01))
    log = rows_of(run(pg.log_softmax, s, 0.01))
    if dtype == pl.Int64:
        assert soft == [[1.0], [1.0], [1.0]]
        assert log == [[0.0], [0.0], [0.0]]
    else:
        # A lone -inf score is an all -inf row: null.
        assert soft == [[1.0], [1.0], None]
        assert log == [[0.0], [0.0], None]


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
def test_empty_list_is_null(fn: SoftmaxFn) -> None:
    s = make_column([[], [1.0, 1.0], [], None], "list", pl.Float64())
    out = run(fn, s, 1.0)
    assert out.dtype == pl.List(pl.Float64)
    assert out.is_null().to_list() == [True, False, True, True]


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_all_null_column(layout: Layout, fn: SoftmaxFn) -> None:
    s = make_column([None, None, None], layout, pl.Float64(), width=2)
    out = run(fn, s, 1.0)
    assert out.null_count() == 3
    assert out.dtype == s.dtype


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_column(layout: Layout, fn: SoftmaxFn) -> None:
    s = make_column([], layout, pl.Float32(), width=3)
    out = run(fn, s, 1.0)
    assert len(out) == 0
    assert out.dtype == s.dtype


# --------------------------------------------------------------------------- chunks, slices


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_multi_chunk_and_sliced_input(layout: Layout, fn_name: str) -> None:
    rng = np.random.default_rng(7)
    rows: list[list[float] | None] = list(random_rows(rng, 120, None if layout == "list" else 4))
    rows[17] = None
    whole = make_column(rows, layout, pl.Float64(), width=None if layout == "list" else 4)
    pieces = [whole.slice(i, 13) for i in range(3, 120, 13)]  # sliced views, offset ≠ 0
    chunked = pl.concat(pieces, rechunk=False)
    assert chunked.n_chunks() == len(pieces)
    out = check(chunked, fn_name, 0.5)
    expected = check(whole.slice(3), fn_name, 0.5)
    assert rows_of(out) == rows_of(expected)


@pytest.mark.parametrize("fn_name", sorted(FUNCTIONS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("rows", "cut"),
    [
        ([[1.0, 2.0], None], 1),
        ([None, None], 1),
        ([[1.0, 2.0], [0.0, 0.0], None, [3.0, 1.0]], 2),
        ([[1.0, None], [0.0, 0.0], [5.0, 1.0]], 1),
    ],
)
def test_small_multi_chunk_input_with_nulls(
    rows: list[list[Value] | None], cut: int, layout: Layout, fn_name: str
) -> None:
    s = make_column(rows, layout, pl.Float64(), width=2)
    chunked = pl.concat([s.slice(0, cut), s.slice(cut)], rechunk=False)
    assert chunked.n_chunks() == 2
    check(chunked, fn_name, 1.0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
@pytest.mark.parametrize("tau", [0.0, -0.0, -1.0, -INF, INF, NAN])
def test_bad_tau_is_rejected_in_python(fn: SoftmaxFn, tau: float) -> None:
    with pytest.raises(ValueError, match="tau must be finite and > 0"):
        fn("x", tau=tau)


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
@pytest.mark.parametrize("tau", ["1", True, None])
def test_non_numeric_tau_is_a_type_error(fn: SoftmaxFn, tau: Any) -> None:
    with pytest.raises(TypeError, match="tau must be a number"):
        fn("x", tau=tau)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("tau", [0.0, -2.0])
def test_bad_tau_is_rejected_in_rust(name: str, tau: float) -> None:
    df = pl.DataFrame([make_column([[1.0, 2.0]], "array", pl.Float64())])
    with pytest.raises(pl.exceptions.ComputeError, match="tau must be finite and > 0"):
        df.select(_plugin(name, [pl.col("x")], {"tau": tau}))


@pytest.mark.parametrize("fn", [pg.softmax, pg.log_softmax])
@pytest.mark.parametrize(
    ("values", "dtype", "found"),
    [
        (["a", "b"], pl.String(), "str"),
        ([1.0, 2.0], pl.Float64(), "f64"),
        ([["a"], ["b"]], pl.List(pl.String), "str"),
    ],
)
def test_non_block_input_is_a_clear_error(
    fn: SoftmaxFn, values: list[Any], dtype: pl.DataType, found: str
) -> None:
    df = pl.DataFrame({"x": pl.Series(values, dtype=dtype)})
    with pytest.raises(pl.exceptions.PolarsError, match=found) as info:
        df.select(fn("x"))
    assert "Struct" in str(info.value) or "numeric" in str(info.value)


# --------------------------------------------------------------------------- properties

SPECIAL_F64 = [0.0, -0.0, 1.0, -1.0, 1e300, -1e300, 5e-324, INF, -INF, NAN]
SPECIAL_F32 = [0.0, -0.0, 1.0, -1.0, 3e38, -3e38, 1e-45, INF, -INF, NAN]
Case = tuple[Layout, str, list[Optional[list[Value]]], float, int, bool]


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
    offset = draw(st.integers(0, 3))
    split = draw(st.booleans())
    return layout, dtype_name, rows, tau, offset, split


DTYPES: dict[str, pl.DataType] = {"f64": pl.Float64(), "f32": pl.Float32(), "i32": pl.Int32()}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), fn_name=st.sampled_from(sorted(FUNCTIONS)))
@example(case=("array", "f64", [[1.0, 1.0, 1.0]], 1.0, 0, False), fn_name="softmax")  # ties
@example(case=("struct", "f64", [[3.0]], 1e-8, 0, False), fn_name="log_softmax")  # K = 1
@example(case=("list", "f64", [[], [1.0], []], 1.0, 2, True), fn_name="softmax")  # K = 0
@example(case=("list", "f32", [None, None], 1.0, 1, False), fn_name="softmax")  # all null
@example(case=("struct", "f64", [None, None], 1.0, 0, True), fn_name="log_softmax")
@example(case=("array", "f64", [[-INF, -INF]], 1.0, 0, False), fn_name="softmax")  # all -inf
@example(case=("list", "f32", [[NAN, 1.0]], 1.0, 0, False), fn_name="softmax")  # NaN
@example(case=("array", "f32", [[INF, 0.0]], 1.0, 3, True), fn_name="log_softmax")  # +inf
@example(case=("array", "f64", [[1e300, -1e300, 0.0]], 1e-8, 0, False), fn_name="softmax")
@example(case=("list", "f64", [[1.0, 2.0, -1e300]], 1e8, 0, False), fn_name="softmax")
@example(case=("struct", "f64", [[1.0, None]], 1.0, 1, True), fn_name="softmax")  # null element
@example(case=("struct", "i32", [[2**31 - 1, -(2**31)]], 1e-8, 0, True), fn_name="softmax")
def test_property_matches_numpy(case: Case, fn_name: str) -> None:
    layout, dtype_name, rows, tau, offset, split = case
    dtype = DTYPES[dtype_name]
    given_rows = [r for r in rows if r is not None]
    width = len(given_rows[0]) if given_rows and layout != "list" else 2
    padding: list[list[Value] | None] = [[1] * width] * offset
    s = make_column(padding + rows, layout, dtype, width=width).slice(offset)
    if split and len(s) > 1:
        s = pl.concat([s.slice(0, len(s) // 2), s.slice(len(s) // 2)], rechunk=False)
    out = check(s, fn_name, tau)
    if fn_name == "softmax":
        atol = TOLERANCE[pl.Float32() if dtype_name == "f32" else pl.Float64()][1]
        for row in rows_of(out):
            if row is not None:
                assert abs(math.fsum(row) - 1.0) <= max(atol, len(row) * 1e-15)


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("fn_name", list(FUNCTIONS))
@pytest.mark.parametrize("dtype", [pl.Float32(), pl.Float64()], ids=str)
@pytest.mark.parametrize("width", [1, 3, 7, 8, 9, 16, 17, 64])
@pytest.mark.parametrize("tau", [0.7, 1.0])
def test_every_layout_gives_the_same_bits(
    fn_name: str, dtype: pl.DataType, width: int, tau: float
) -> None:
    """Struct and Array blocks run eight rows at a time, List blocks row by row: the
    same bits, whatever the width, for rows with -inf, ties, huge spreads and a last
    group of fewer than eight rows. At tau = 1 the eight-row `log_softmax` forms each
    `x - max` in the block's type, and the List path in `f64`."""
    fn, _ = FUNCTIONS[fn_name]
    rng = np.random.default_rng(width)
    n = 203
    scale = 3e37 if dtype == pl.Float32() else 1e300
    x = rng.standard_normal((n, width)) * rng.choice([1.0, 30.0, scale], size=(n, 1))
    x[rng.random((n, width)) < 0.05] = -np.inf
    x[5] = 2.0  # a row of ties
    rows = [list(r) for r in x]
    outs = {}
    for layout in ("array", "struct", "list"):
        s = make_column(rows, layout, dtype, width=width)
        outs[layout] = rows_of(s.to_frame().select(fn("x", tau=tau)).to_series())
    as_bits = {
        k: [None if r is None else np.asarray(r, dtype=np.float64).tobytes() for r in v]
        for k, v in outs.items()
    }
    assert as_bits["array"] == as_bits["struct"] == as_bits["list"]
