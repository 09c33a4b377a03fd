"""`argmax` and `decode`: DESIGN §2 (score blocks), §3, §4 (randomness) and §5 (special values).

Every expected value comes from an independent reference (numpy's ``argmax``,
scikit-learn's ``OneHotEncoder.inverse_transform``, a softmax computed here) or from a
property the design states (``decode(one_hot(x)) == x``, sampling equals the hard
Gumbel-Softmax draw, lazy equals eager), never from the plugin's own earlier output.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from polars.testing import assert_frame_equal, assert_series_equal
from scipy import stats
from sklearn.preprocessing import OneHotEncoder

from polars_gumbel import argmax, decode, gumbel_softmax, one_hot

Row = Optional[list[Optional[float]]]
OneHotLayout = Literal["struct", "array"]
FloatArray = npt.NDArray[np.floating[Any]]

LAYOUTS = ("struct", "array", "list")
FLOATS = (pl.Float32, pl.Float64)
INF = math.inf
NAN = math.nan
ALPHA = 0.001

# The plugin's errors reach Python as this class (checked by `test_error_class`).
PluginError = pl.exceptions.ComputeError


# --------------------------------------------------------------------------- helpers


def np_dtype(dtype: pl.DataType | type[pl.DataType]) -> type[np.floating[Any]]:
    return np.float32 if dtype == pl.Float32 else np.float64


def blocks_from_numpy(x: FloatArray, layout: str, name: str = "s") -> pl.Series:
    """A score column of `layout` holding the rows of the 2-D array `x` (no nulls)."""
    if layout == "struct":
        fields = {f"{name}_c{j}": x[:, j] for j in range(x.shape[1])}
        return pl.DataFrame(fields).select(pl.struct(pl.all()).alias(name)).to_series()
    arr = pl.Series(name, x)
    if layout == "array":
        return arr
    inner = pl.Float32 if x.dtype == np.float32 else pl.Float64
    return arr.cast(pl.List(inner))


def blocks_from_rows(rows: Sequence[Row], k: int, dtype: pl.DataType, layout: str) -> pl.Series:
    """A score column of `layout` from Python rows (None rows and None elements allowed)."""
    as_f64 = [None if r is None else list(r) for r in rows]
    if layout == "list":
        return pl.Series("s", as_f64, dtype=pl.List(pl.Float64)).cast(pl.List(dtype))
    if layout == "array":
        return pl.Series("s", as_f64, dtype=pl.Array(pl.Float64, k)).cast(pl.Array(dtype, k))
    struct_dtype = pl.Struct({f"s_c{j}": pl.Float64 for j in range(k)})
    records = [None if r is None else {f"s_c{j}": v for j, v in enumerate(r)} for r in rows]
    target = pl.Struct({f"s_c{j}": dtype for j in range(k)})
    return pl.Series("s", records, dtype=struct_dtype).cast(target)


def ref_argmax(rows: Sequence[Row], dtype: pl.DataType, *, zero_is_null: bool) -> list[int | None]:
    """numpy's argmax per row, with DESIGN §5's null rows (and §3's all-zero rule)."""
    out: list[int | None] = []
    for row in rows:
        if row is None or len(row) == 0 or any(v is None for v in row):
            out.append(None)
            continue
        with np.errstate(over="ignore"):
            x = np.array(row, dtype=np.float64).astype(np_dtype(dtype))
        if np.isnan(x).any() or np.isposinf(x).any() or np.isneginf(x).all():
            out.append(None)
        elif zero_is_null and not x.any():
            out.append(None)
        else:
            out.append(int(np.argmax(x)))
    return out


def two_chunks_sliced(s: pl.Series, split: int, offset: int) -> pl.Series:
    """`s` as two chunks split at `split`, then sliced from `offset`: same values."""
    split = min(split, len(s))
    parts = pl.concat([s.slice(0, split), s.slice(split)], rechunk=False)
    return parts.slice(min(offset, len(parts)))


def softmax_np(logits: FloatArray, tau: float) -> FloatArray:
    z = logits / tau
    z = z - z[np.isfinite(z)].max()
    e = np.exp(z)
    out: FloatArray = e / e.sum()
    return out


def labels_of(n: int) -> list[str]:
    return [f"c{j}" for j in range(n)]


# --------------------------------------------------------------------------- argmax


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("width", [5, 8, 16, 23, 64])
def test_argmax_matches_numpy_on_ties(layout: str, dtype: pl.DataType, width: int) -> None:
    rng = np.random.default_rng(width)
    x = rng.integers(0, 3, size=(3001, width)).astype(np_dtype(dtype))
    out = blocks_from_numpy(x, layout).to_frame().select(argmax("s")).to_series()
    expected = pl.Series("s", np.argmax(x, axis=1), dtype=pl.UInt32)
    assert_series_equal(out, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_argmax_multichunk_and_sliced(layout: str, dtype: pl.DataType) -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(-2, 2, size=(50_000, 4)).astype(np_dtype(dtype))
    s = two_chunks_sliced(blocks_from_numpy(x, layout), split=20_011, offset=777)
    assert s.n_chunks() == 2
    out = s.to_frame().select(argmax("s")).to_series()
    expected = pl.Series("s", np.argmax(x[777:], axis=1), dtype=pl.UInt32)
    assert_series_equal(out, expected)


def test_argmax_integer_and_mixed_struct_fields() -> None:
    df = pl.DataFrame(
        {"a": [1, 5, 2, -7], "b": [3, 5, 1, -7], "c": [0.5, 9.5, 2.0, -7.0]},
        schema={"a": pl.Int64, "b": pl.Int8, "c": pl.Float32},
    )
    out = df.select(argmax(pl.struct("a", "b", "c"))).to_series()
    x = df.to_numpy().astype(np.float64)
    assert out.dtype == pl.UInt32
    assert out.to_list() == np.argmax(x, axis=1).tolist()


SPECIAL_ROWS: list[Row] = [
    [1.0, 3.0, 3.0],  # tie: lowest index
    [NAN, 1.0, 2.0],  # NaN: null
    [1.0, INF, 0.0],  # +inf: null
    [-INF, -INF, -INF],  # all -inf: null
    [-INF, -1.0, -INF],  # -inf next to a finite score is fine
    None,  # null row
    [1.0, None, 5.0],  # null element: null row
    [0.0, 0.0, 0.0],  # all zeros: argmax 0 (decode: null)
    [-0.0, 0.0, -1.0],  # -0.0 == 0.0: a tie
    [1e300, -1e300, 1e-300],  # Float32: +inf then, so null
    [-5.0, -4.0, -4.0],
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_argmax_special_values(layout: str, dtype: pl.DataType) -> None:
    s = blocks_from_rows(SPECIAL_ROWS, 3, dtype, layout)
    out = s.to_frame().select(argmax("s")).to_series()
    expected = pl.Series("s", ref_argmax(SPECIAL_ROWS, dtype, zero_is_null=False), pl.UInt32)
    assert_series_equal(out, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_special_values_multichunk_and_sliced(layout: str, dtype: pl.DataType) -> None:
    """Null rows and null elements in a column of several chunks, sliced (a Parquet scan
    of several row groups gives such columns)."""
    rows = SPECIAL_ROWS * 3
    s = two_chunks_sliced(blocks_from_rows(rows, 3, dtype, layout), split=13, offset=4)
    assert s.n_chunks() == 2
    out = s.to_frame().select(argmax("s").alias("i"), decode("s", ["a", "b", "c"]).alias("d"))
    kept = rows[4:]
    assert out["i"].to_list() == ref_argmax(kept, dtype, zero_is_null=False)
    expected = [
        "abc"[i] if i is not None else None for i in ref_argmax(kept, dtype, zero_is_null=True)
    ]
    assert out["d"].to_list() == expected


def test_argmax_empty_list_and_uneven_rows() -> None:
    rows: list[Row] = [[], [2.0], [1.0, 4.0, 4.0, 0.0], [], [-INF]]
    s = pl.Series("s", rows, dtype=pl.List(pl.Float64))
    out = s.to_frame().select(argmax("s")).to_series()
    assert out.to_list() == [None, 0, 1, None, None]
    assert out.to_list() == ref_argmax(rows, pl.Float64(), zero_is_null=False)


# --------------------------------------------------------------------------- decode vs sklearn

SKLEARN_COLUMNS = ("workclass", "race", "sex")


@pytest.mark.parametrize("dtype", FLOATS)
def test_decode_matches_sklearn_inverse_transform(adult: pl.DataFrame, dtype: pl.DataType) -> None:
    data = adult.select(SKLEARN_COLUMNS).head(6000)
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
    onehot = enc.fit_transform(data.to_pandas())
    rng = np.random.default_rng(3)
    # Noisy, non-negative scores: argmax often differs from the encoded category, and
    # sklearn's "row sums to 0" test for unknowns means exactly "all zeros".
    scores = 0.6 * onehot + rng.uniform(0.0, 1.0, size=onehot.shape)
    starts = np.cumsum([0, *(len(c) for c in enc.categories_)])
    for i in range(len(SKLEARN_COLUMNS)):
        scores[i::13, starts[i] : starts[i + 1]] = 0.0  # all-zero blocks: unknown → None
    scores = scores.astype(np_dtype(dtype))
    expected = enc.inverse_transform(scores)

    names = list(enc.get_feature_names_out())  # "workclass_ Private", as one_hot names them
    flat = pl.DataFrame({n: scores[:, j] for j, n in enumerate(names)})
    blocks = flat.select(
        pl.struct(names[starts[i] : starts[i + 1]]).alias(col)
        for i, col in enumerate(SKLEARN_COLUMNS)
    )
    out = blocks.select(decode(col) for col in SKLEARN_COLUMNS)
    assert out.schema == pl.Schema({c: pl.String for c in SKLEARN_COLUMNS})
    for i, col in enumerate(SKLEARN_COLUMNS):
        assert out[col].to_list() == list(expected[:, i]), col
    assert out.null_count().row(0) == tuple(len(range(i, len(data), 13)) for i in range(3))


# --------------------------------------------------------------------------- round trips


def with_nulls(df: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Every column gets nulls at its own rows (every 11th, shifted per column)."""
    idx = pl.int_range(pl.len())
    return df.with_columns(
        pl.when((idx + i) % 11 == 0).then(None).otherwise(pl.col(c)).alias(c)
        for i, c in enumerate(columns)
    )


@pytest.mark.parametrize("indicator", [pl.UInt8, pl.Float32, pl.Float64])
@pytest.mark.parametrize("layout", ["struct", "array"])
def test_decode_one_hot_roundtrip_string(
    adult: pl.DataFrame,
    adult_categorical: tuple[str, ...],
    indicator: pl.DataType,
    layout: OneHotLayout,
) -> None:
    df = with_nulls(adult.select(adult_categorical), adult_categorical)
    for col in adult_categorical:
        cats = sorted(df[col].drop_nulls().unique().to_list())
        encoded = df.select(one_hot(col, cats, layout=layout, dtype=indicator))
        labels = None if layout == "struct" else cats
        out = encoded.select(decode(col, labels)).to_series()
        assert out.null_count() > 0
        assert_series_equal(out, df[col])


def test_decode_one_hot_roundtrip_enum(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...]
) -> None:
    df = with_nulls(adult.select(adult_categorical), adult_categorical)
    for col in adult_categorical:
        cats = sorted(df[col].drop_nulls().unique().to_list())
        enum = pl.Enum(cats)
        superset = pl.Enum(["<never seen>", *reversed(cats), "<also new>"])
        x = df.select(pl.col(col).cast(enum))
        encoded = x.select(one_hot(col))  # categories from the Enum
        out = encoded.select(
            decode(col, dtype=pl.Enum).alias("enum"),
            decode(col, dtype=superset).alias("superset"),
        )
        assert_series_equal(out["enum"], x[col].alias("enum"))
        assert_series_equal(out["superset"], df[col].cast(superset).alias("superset"))


def test_decode_one_hot_roundtrip_categorical(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...]
) -> None:
    df = with_nulls(adult.select(adult_categorical), adult_categorical)
    for col in adult_categorical:
        cats = sorted(df[col].drop_nulls().unique().to_list())
        x = df.select(pl.col(col).cast(pl.Categorical))
        out = x.select(one_hot(col, cats, dtype=pl.Float32)).select(
            decode(col, dtype=pl.Categorical)
        )
        assert out.schema == pl.Schema({col: pl.Categorical()})
        assert_series_equal(out[col].cast(pl.String), df[col])


X_UNKNOWN = pl.DataFrame({"x": ["a", "b", "c", None, "a", "zz", "b"]})
CATS_AB = ["a", "b"]


@pytest.mark.parametrize("indicator", [pl.UInt8, pl.Float32, pl.Float64])
@pytest.mark.parametrize("layout", ["struct", "array"])
@pytest.mark.parametrize(
    ("options", "labels", "expected"),
    [
        ({"unknown": "zeros"}, CATS_AB, ["a", "b", None, None, "a", None, "b"]),
        ({"unknown": "null"}, CATS_AB, ["a", "b", None, None, "a", None, "b"]),
        ({"unknown": "other"}, [*CATS_AB, "other"], ["a", "b", "other", None, "a", "other", "b"]),
        (
            {"unknown": "other", "other_label": "rest", "nulls": "category"},
            [*CATS_AB, "null", "rest"],
            ["a", "b", "rest", "null", "a", "rest", "b"],
        ),
        ({"unknown": "zeros", "nulls": "zeros"}, CATS_AB, ["a", "b", None, None, "a", None, "b"]),
        # drop_first: the first category's rows are all zeros, so they decode to null.
        ({"unknown": "zeros", "drop_first": True}, ["b"], [None, "b", None, None, None, None, "b"]),
        # decode(null_label="null") inverts nulls="category".
        (
            {"unknown": "other", "nulls": "category", "decode": {"null_label": "null"}},
            [*CATS_AB, "null", "other"],
            ["a", "b", "other", None, "a", "other", "b"],
        ),
    ],
)
def test_decode_after_one_hot_unknown_policies(
    indicator: pl.DataType,
    layout: OneHotLayout,
    options: dict[str, Any],
    labels: list[str],
    expected: list[str | None],
) -> None:
    options = dict(options)
    decode_options: dict[str, Any] = options.pop("decode", {})
    encoded = X_UNKNOWN.select(one_hot("x", CATS_AB, layout=layout, dtype=indicator, **options))
    labels_arg = None if layout == "struct" else labels
    out = encoded.select(decode("x", labels_arg, **decode_options)).to_series()
    assert_series_equal(out, pl.Series("x", expected, dtype=pl.String))


# --------------------------------------------------------------------------- labels


def identity_struct(name: str, fields: Sequence[str]) -> pl.DataFrame:
    """Row j is the one-hot of field j, so decoding gives the labels in order."""
    eye = np.eye(len(fields), dtype=np.float32)
    flat = pl.DataFrame({f: eye[:, j] for j, f in enumerate(fields)})
    return flat.select(pl.struct(list(fields)).alias(name))


@pytest.mark.parametrize(
    ("name", "fields", "options", "expected"),
    [
        ("sex", ["sex_Male", "sex_Female"], {}, ["Male", "Female"]),
        ("sex", ["sex__Male", "sex__Female"], {"separator": "__"}, ["Male", "Female"]),
        ("sex", ["sex.Male", "sex.Female"], {"separator": "."}, ["Male", "Female"]),
        ("sex", ["sex_ Male", "sex_ ?"], {}, [" Male", " ?"]),  # Adult's leading spaces kept
        ("gender", ["sex_Male", "sex_Female"], {"prefix": "sex"}, ["Male", "Female"]),
        (
            "gender",
            ["sex-Male", "sex-Female"],
            {"prefix": "sex", "separator": "-"},
            ["Male", "Female"],
        ),
        # No explicit prefix and the column's name is not one: the longest common start
        # ending in the separator.
        ("gender", ["sex_Male", "sex_Female"], {}, ["Male", "Female"]),
        ("z", ["a_b_x", "a_b_y"], {}, ["x", "y"]),
        ("z", ["sex_Ma", "sex_Mb"], {}, ["Ma", "Mb"]),
        ("z", ["apple", "apricot"], {}, ["apple", "apricot"]),
        ("z", ["x_a", "y_b"], {}, ["x_a", "y_b"]),
        # The column's name wins over a longer common start.
        ("a", ["a_b_x", "a_b_y"], {}, ["b_x", "b_y"]),
        ("c", ["c_only"], {}, ["only"]),  # K = 1
        ("sex", ["sex_Male", "sex_Female"], {"labels": ["M", "F"]}, ["M", "F"]),
    ],
)
def test_labels_from_struct_fields(
    name: str, fields: list[str], options: dict[str, Any], expected: list[str]
) -> None:
    df = identity_struct(name, fields)
    out = df.select(decode(name, **options)).to_series()
    assert out.to_list() == expected
    schema = df.lazy().select(decode(name, dtype=pl.Enum, **options)).collect_schema()
    assert schema == pl.Schema({name: pl.Enum(expected)})


@pytest.mark.parametrize("layout", ["array", "list"])
def test_explicit_labels_for_array_and_list(layout: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 4))
    labels = ["w", "x", "y", "z"]
    out = blocks_from_numpy(x, layout).to_frame().select(decode("s", labels)).to_series()
    assert out.to_list() == [labels[i] for i in np.argmax(x, axis=1)]


def test_list_rows_of_different_lengths() -> None:
    rows: list[Row] = [[0.1, 0.9], [3.0, 1.0, 2.0], [], None, [0.0, 0.0, 0.0], [-1.0, -2.0, 0.5]]
    s = pl.Series("s", rows, dtype=pl.List(pl.Float64))
    out = s.to_frame().select(decode("s", ["a", "b", "c"])).to_series()
    assert out.to_list() == ["b", "a", None, None, None, "c"]


# --------------------------------------------------------------------------- sampling


def logits_for_sampling(n: int, k: int, dtype: pl.DataType, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(n, k))
    x[rng.random(size=(n, k)) < 0.1] = -INF  # never sampled
    x[::97] = 0.0  # all-zero rows: uniform under method="sample"
    x[5::211, 0] = NAN  # null rows
    x[:, 1][np.isneginf(x).all(axis=1)] = 0.0  # keep all -inf rows rare but present
    x[7] = -INF
    return x.astype(np_dtype(dtype))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("key_kind", [None, "int", "str"])
def test_sample_equals_decode_of_hard_gumbel_softmax(
    layout: str, dtype: pl.DataType, key_kind: str | None
) -> None:
    n, k = 10_000, 5
    x = logits_for_sampling(n, k, dtype, seed=5)
    df = blocks_from_numpy(x, layout).to_frame()
    rng = np.random.default_rng(6)
    key: str | None = None
    if key_kind == "int":
        df = df.with_columns(key=pl.Series(rng.permutation(n).astype(np.int64) * 7919 - 10**9))
        key = "key"
    elif key_kind == "str":
        df = df.with_columns(key=pl.Series([f"row-{i}" for i in rng.permutation(n)]))
        key = "key"
    labels = None if layout == "struct" else labels_of(k)
    seed = 2024
    out = df.select(
        sampled=decode("s", labels, method="sample", seed=seed, key=key),
        hard=decode(gumbel_softmax("s", hard=True, seed=seed, key=key), labels),
    )
    assert_series_equal(out["sampled"], out["hard"], check_names=False)
    code = out["sampled"].cast(pl.Enum(labels_of(k))).to_physical().to_numpy()
    null_row = np.isnan(x).any(axis=1) | np.isposinf(x).any(axis=1) | np.isneginf(x).all(axis=1)
    # Null exactly where the scores make a null row; an all-zero row is not null.
    assert np.array_equal(out["sampled"].is_null().to_numpy(), null_row)
    valid = ~null_row
    chosen = code[valid].astype(np.int64)
    # A -inf score is never sampled.
    assert np.isfinite(x[valid][np.arange(valid.sum()), chosen]).all()
    # Not a disguised argmax.
    assert (chosen != np.argmax(x[valid], axis=1)).sum() > n // 10


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_positional_sample_does_not_depend_on_chunks(layout: str, dtype: pl.DataType) -> None:
    """DESIGN §4: positional seeding is bit-identical across chunk layouts, null rows and
    null elements included (a Parquet scan of several row groups gives such columns)."""
    rows = SPECIAL_ROWS * 40
    multi = two_chunks_sliced(blocks_from_rows(rows, 3, dtype, layout), split=150, offset=7)
    assert multi.n_chunks() == 2
    labels = ["a", "b", "c"]
    results = [
        s.to_frame().select(
            sampled=decode("s", labels, method="sample", seed=31),
            hard=decode(gumbel_softmax("s", hard=True, seed=31), labels),
        )
        for s in (multi, multi.rechunk())
    ]
    assert_frame_equal(results[0], results[1])
    assert_series_equal(results[0]["sampled"], results[0]["hard"], check_names=False)
    nulls = [r is None for r in ref_argmax(rows[7:], dtype, zero_is_null=False)]
    assert results[0]["sampled"].is_null().to_list() == nulls


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("tau", [0.7, 0.25, 3.0])
def test_sample_with_tau_equals_hard_draw_of_scaled_logits(dtype: pl.DataType, tau: float) -> None:
    x = logits_for_sampling(10_000, 4, dtype, seed=7)
    scaled = x / np_dtype(dtype)(tau)  # IEEE division in the block's own precision
    df = pl.DataFrame({"x": x, "scaled": scaled})
    labels = labels_of(4)
    out = df.select(
        sampled=decode("x", labels, method="sample", tau=tau, seed=99),
        hard=decode(gumbel_softmax("scaled", hard=True, seed=99), labels),
    )
    assert_series_equal(out["sampled"], out["hard"], check_names=False)


def test_sample_with_key_ignores_row_order_and_partitioning() -> None:
    n = 5000
    x = logits_for_sampling(n, 3, pl.Float64(), seed=8)
    df = pl.DataFrame({"s": x, "key": np.arange(n, dtype=np.int64) * 3 + 11})
    expr = decode("s", ["a", "b", "c"], method="sample", seed=3, key="key")
    whole = df.with_columns(expr.alias("y"))
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=1)
    parts = pl.concat(part.with_columns(expr.alias("y")) for part in shuffled.iter_slices(777))
    assert_frame_equal(parts.sort("key"), whole)


def test_sample_is_reproducible_and_seed_dependent() -> None:
    x = logits_for_sampling(5000, 6, pl.Float32(), seed=9)
    df = pl.DataFrame({"s": x})
    labels = labels_of(6)
    out = df.select(
        a=decode("s", labels, method="sample", seed=1),
        b=decode("s", labels, method="sample", seed=1),
        c=decode("s", labels, method="sample", seed=2),
    )
    assert_series_equal(out["a"], out["b"], check_names=False)
    assert (out["a"] != out["c"]).sum() > 1000


FREQUENCY_LOGITS = np.array([0.5, -1.0, 2.0, 0.0, 1.0, -INF])


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_sample_frequencies_match_softmax(tau: float) -> None:
    n = 200_000
    x = np.tile(FREQUENCY_LOGITS, (n, 1))
    labels = labels_of(len(FREQUENCY_LOGITS))
    out = pl.DataFrame({"s": x}).select(decode("s", labels, method="sample", tau=tau, seed=17))
    counts = out.to_series().value_counts()
    observed = np.array(
        [counts.filter(pl.col("s") == lab)["count"].sum() for lab in labels], dtype=np.float64
    )
    assert observed.sum() == n
    assert observed[-1] == 0  # the -inf category
    expected = n * softmax_np(FREQUENCY_LOGITS[:-1], tau)
    result = stats.chisquare(observed[:-1], expected)
    assert result.pvalue > ALPHA, (observed, expected)
    # A wrong temperature is detected: the test has power.
    other = n * softmax_np(FREQUENCY_LOGITS[:-1], 1.5 - tau)
    assert stats.chisquare(observed[:-1], other).pvalue < ALPHA


def test_sample_of_all_zero_rows_is_uniform() -> None:
    """method="sample" reads an all-zero row as uniform logits (the argmax rule is not used)."""
    n = 100_000
    x = pl.DataFrame({"x": ["zz"] * n}).select(
        one_hot("x", ["a", "b", "c", "d"], unknown="zeros", dtype=pl.Float32)
    )
    out = x.select(decode("x", method="sample", seed=23)).to_series()
    assert out.null_count() == 0
    observed = np.array([(out == lab).sum() for lab in "abcd"], dtype=np.float64)
    assert stats.chisquare(observed, np.full(4, n / 4)).pvalue > ALPHA
    assert x.select(decode("x")).to_series().null_count() == n  # argmax: null


# --------------------------------------------------------------------------- lazy plans


def test_output_schema_before_data() -> None:
    lf = pl.LazyFrame(
        schema={
            "sex": pl.Struct({"sex_F": pl.Float32, "sex_M": pl.Float32}),
            "arr": pl.Array(pl.Float64, 3),
            "lst": pl.List(pl.Int32),
            "raw": pl.String,
            "k": pl.Int64,
        }
    )
    plan = lf.select(
        decode("sex"),
        decode("sex", dtype=pl.Enum).alias("enum"),
        decode("arr", ["a", "b", "c"], dtype=pl.Enum(["c", "b", "z", "a"])).alias("superset"),
        decode("lst", ["p", "q"], dtype=pl.Enum).alias("lst_enum"),
        decode("sex", dtype=pl.Categorical).alias("cat"),
        decode("sex", method="sample", seed=1, key="k").alias("sampled"),
        decode(one_hot("raw", ["u", "v"]), dtype=pl.Enum).alias("chain"),
        argmax("arr").alias("idx"),
        argmax("lst").alias("lst_idx"),
    )
    expected = pl.Schema(
        {
            "sex": pl.String(),
            "enum": pl.Enum(["F", "M"]),
            "superset": pl.Enum(["c", "b", "z", "a"]),
            "lst_enum": pl.Enum(["p", "q"]),
            "cat": pl.Categorical(),
            "sampled": pl.String(),
            "chain": pl.Enum(["u", "v"]),
            "idx": pl.UInt32(),
            "lst_idx": pl.UInt32(),
        }
    )
    assert plan.collect_schema() == expected
    assert plan.collect().schema == expected  # and on no rows, the same


@pytest.mark.parametrize("inject_nulls", [False, True])
def test_lazy_streaming_sink_and_serialized_plans_agree_with_eager(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...], tmp_path: Path, inject_nulls: bool
) -> None:
    """A Parquet file of several row groups: the scan gives multi-chunk columns."""
    cols = adult_categorical[:5]
    df = adult.select(cols)
    df = (with_nulls(df, cols) if inject_nulls else df).with_row_index("id")
    source = tmp_path / "adult.parquet"
    df.write_parquet(source, row_group_size=4096)
    cats = {c: sorted(df[c].drop_nulls().unique().to_list()) for c in cols}
    sel = cols[0]
    plan = (
        pl.scan_parquet(source)
        .with_columns(
            one_hot(c, cats[c], dtype=pl.Float32, layout="array" if i % 2 else "struct")
            for i, c in enumerate(cols)
        )
        .select(
            "id",
            *(decode(c, None if i % 2 == 0 else cats[c]) for i, c in enumerate(cols)),
            decode(sel, dtype=pl.Enum).alias("enum"),
            argmax(sel).alias("idx"),
            decode(sel, method="sample", seed=5, key="id").alias("keyed"),
            decode(sel, method="sample", seed=5).alias("positional"),
            decode(gumbel_softmax(sel, hard=True, seed=5, key="id")).alias("hard_keyed"),
        )
    )
    expected_schema = pl.Schema(
        {
            "id": pl.UInt32(),
            **{c: pl.String() for c in cols},
            "enum": pl.Enum(cats[sel]),
            "idx": pl.UInt32(),
            "keyed": pl.String(),
            "positional": pl.String(),
            "hard_keyed": pl.String(),
        }
    )
    assert plan.collect_schema() == expected_schema
    eager = plan.collect(engine="in-memory")
    assert eager.schema == expected_schema
    # Stated properties of the eager result, checked independently.
    assert_frame_equal(eager.select(cols), df.select(cols))
    assert_series_equal(eager["enum"], df[sel].cast(pl.Enum(cats[sel])).alias("enum"))
    expected_idx = [None if v is None else cats[sel].index(v) for v in df[sel]]
    assert eager["idx"].to_list() == expected_idx
    assert_series_equal(eager["keyed"], eager["hard_keyed"], check_names=False)

    assert_frame_equal(plan.collect(engine="streaming"), eager)
    sunk = tmp_path / "out.parquet"
    plan.sink_parquet(sunk)
    assert_frame_equal(pl.read_parquet(sunk), eager)
    restored = pl.LazyFrame.deserialize(io.BytesIO(plan.serialize()))
    assert restored.collect_schema() == expected_schema
    assert_frame_equal(restored.collect(engine="in-memory"), eager)
    assert_frame_equal(restored.collect(engine="streaming"), eager)


# --------------------------------------------------------------------------- errors


def test_error_class() -> None:
    """The plugin's errors surface as one Polars exception class."""
    df = pl.DataFrame({"s": [[1.0, 2.0]]})
    with pytest.raises(pl.exceptions.PolarsError) as info:
        df.select(decode("s"))
    assert type(info.value) is PluginError


def test_error_wrong_number_of_labels() -> None:
    struct = identity_struct("sex", ["sex_a", "sex_b", "sex_c"])
    with pytest.raises(PluginError, match=r"3 scores per row, but 2 labels"):
        struct.select(decode("sex", ["a", "b"]))
    arr = pl.DataFrame({"s": np.eye(3)})
    with pytest.raises(PluginError, match=r"3 scores per row, but 4 labels"):
        arr.lazy().select(decode("s", ["a", "b", "c", "d"])).collect_schema()


def test_error_list_row_longer_than_labels() -> None:
    df = pl.DataFrame({"s": [[0.0, 1.0], [0.0, 0.0, 5.0]]})
    with pytest.raises(
        PluginError, match=r"column 's' has a block of more scores than the 2 labels"
    ):
        df.select(decode("s", ["a", "b"]))


def test_error_duplicate_labels() -> None:
    df = pl.DataFrame({"s": np.eye(3)})
    with pytest.raises(ValueError, match=r"duplicate label 'a'"):
        df.select(decode("s", ["a", "b", "a"]))


@pytest.mark.parametrize("dtype", [pl.List(pl.Float64), pl.Array(pl.Float32, 2)])
def test_error_list_or_array_without_labels(dtype: pl.DataType) -> None:
    lf = pl.LazyFrame({"s": [[1.0, 2.0]]}, schema={"s": dtype})
    with pytest.raises(PluginError, match=r"decode of column 's' .* needs `labels`"):
        lf.select(decode("s")).collect_schema()
    with pytest.raises(PluginError, match=r"needs `labels`"):
        lf.collect().select(decode("s"))


@pytest.mark.parametrize(
    ("dtype", "found"),
    [
        (pl.Struct({"s_a": pl.String, "s_b": pl.String}), "str"),
        (pl.List(pl.String), "str"),
        (pl.Array(pl.Date, 2), "date"),
    ],
)
def test_error_non_numeric_scores(dtype: pl.DataType, found: str) -> None:
    df = pl.DataFrame({"s": [None]}, schema={"s": dtype})
    with pytest.raises(PluginError, match=rf"decode expects numeric scores, got {found} inside"):
        df.select(decode("s", ["a", "b"]))
    with pytest.raises(PluginError, match=rf"argmax expects numeric scores, got {found} inside"):
        df.select(argmax("s"))


@pytest.mark.parametrize("dtype", [pl.Float64, pl.String])
def test_error_not_a_block(dtype: pl.DataType) -> None:
    df = pl.DataFrame({"s": [None]}, schema={"s": dtype})
    with pytest.raises(PluginError, match=r"decode expects a Struct of numeric fields"):
        df.select(decode("s", ["a"]))
    with pytest.raises(PluginError, match=r"argmax expects a Struct of numeric fields"):
        df.select(argmax("s"))


def test_error_enum_missing_a_label() -> None:
    df = identity_struct("sex", ["sex_Male", "sex_Female"])
    with pytest.raises(PluginError, match=r"label 'Female' is not among the Enum's categories"):
        df.select(decode("sex", dtype=pl.Enum(["Male", "Other"])))
    with pytest.raises(PluginError, match=r"not among the Enum's categories"):
        df.lazy().select(decode("sex", dtype=pl.Enum(["Male"]))).collect_schema()


def test_error_explicit_prefix_not_matching() -> None:
    df = identity_struct("sex", ["sex_Male", "sex_Female"])
    with pytest.raises(PluginError, match=r"not every field of column 'sex' starts with 'gender_'"):
        df.select(decode("sex", prefix="gender"))


def test_error_null_key() -> None:
    df = pl.DataFrame({"s": np.zeros((3, 2)), "key": [1, None, 3]})
    with pytest.raises(PluginError, match=r"key column 'key' has 1 null values"):
        df.select(decode("s", ["a", "b"], method="sample", seed=1, key="key"))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"dtype": pl.Float64}, TypeError, r"dtype must be pl.String, pl.Categorical, pl.Enum"),
        ({"dtype": pl.Date}, TypeError, r"dtype must be pl.String, pl.Categorical, pl.Enum"),
        ({"method": "mode"}, ValueError, r"method must be one of"),
        ({"tau": 0.0}, ValueError, r"tau must be finite and > 0"),
        ({"tau": INF}, ValueError, r"tau must be finite and > 0"),
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        ({"labels": "ab"}, TypeError, r"labels must be a sequence of str"),
        ({"labels": ["a", 1]}, TypeError, r"labels must be a sequence of str"),
    ],
)
def test_python_side_validation(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        decode("s", **kwargs)


# --------------------------------------------------------------------------- properties

SPECIALS = [0.0, -0.0, 1.0, -1.0, 2.0, INF, -INF, NAN, 1e300, -1e300, 5e-324, 3.4e38]
ELEMENT = st.one_of(
    st.sampled_from(SPECIALS),
    st.integers(-2, 2).map(float),  # ties
    st.floats(-1e6, 1e6, allow_nan=False),
)


def as_row(values: list[float]) -> Row:
    row: list[float | None] = list(values)
    return row


ROW: st.SearchStrategy[Row] = st.one_of(
    st.none(),
    st.lists(ELEMENT, max_size=6).map(as_row),
    st.lists(st.one_of(st.none(), ELEMENT), max_size=6),
    # Rows of 16 scores and more take the kernel's lane-wise path.
    st.lists(ELEMENT, min_size=14, max_size=40).map(as_row),
)
# Narrow blocks, and blocks wide enough for the lane-wise row kernel.
WIDTHS = st.one_of(st.integers(1, 6), st.integers(14, 40))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(ROW, max_size=40),
    dtype=st.sampled_from([pl.Float32(), pl.Float64()]),
    split=st.integers(0, 40),
    offset=st.integers(0, 5),
)
@example(rows=[[2.0, 2.0, 1.0], [1.0, 3.0, 3.0]], dtype=pl.Float64(), split=0, offset=0)
@example(rows=[[7.0]], dtype=pl.Float32(), split=1, offset=0)  # one category
@example(rows=[[], [1.0]], dtype=pl.Float64(), split=1, offset=0)  # empty list
@example(rows=[None, None, None], dtype=pl.Float64(), split=2, offset=1)  # all null
@example(rows=[[-INF, -INF], [-INF, 0.0]], dtype=pl.Float32(), split=1, offset=0)  # all -inf
@example(rows=[[NAN, 1.0], [1.0, NAN], [INF, 1.0]], dtype=pl.Float64(), split=1, offset=0)
@example(rows=[[0.0, 0.0], [-0.0, 0.0], [0.0, 5e-324]], dtype=pl.Float64(), split=3, offset=0)
@example(rows=[[1e300, 3.4e38], [5e-324, 0.0]], dtype=pl.Float32(), split=1, offset=0)
def test_property_list_argmax_and_decode_match_numpy(
    rows: list[Row], dtype: pl.DataType, split: int, offset: int
) -> None:
    s = pl.Series("s", rows, dtype=pl.List(pl.Float64)).cast(pl.List(dtype))
    s = two_chunks_sliced(s, split, offset)
    kept = rows[min(offset, len(rows)) :]
    labels = labels_of(40)
    out = s.to_frame().select(argmax("s").alias("i"), decode("s", labels).alias("d"))
    assert out.schema == pl.Schema({"i": pl.UInt32, "d": pl.String})
    assert out["i"].to_list() == ref_argmax(kept, dtype, zero_is_null=False)
    expected = [
        None if i is None else labels[i] for i in ref_argmax(kept, dtype, zero_is_null=True)
    ]
    assert out["d"].to_list() == expected


@settings(max_examples=100, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 30), WIDTHS),
        elements=st.one_of(st.sampled_from(SPECIALS), st.integers(-2, 2).map(float)),
    ),
    layout=st.sampled_from(["struct", "array"]),
    dtype=st.sampled_from([pl.Float32(), pl.Float64()]),
    offset=st.integers(0, 4),
)
@example(x=np.zeros((3, 1)), layout="struct", dtype=pl.Float64(), offset=0)
@example(x=np.full((2, 3), -INF), layout="array", dtype=pl.Float32(), offset=0)
@example(x=np.zeros((0, 2)), layout="struct", dtype=pl.Float64(), offset=0)
def test_property_fixed_width_match_numpy(
    x: FloatArray, layout: str, dtype: pl.DataType, offset: int
) -> None:
    with np.errstate(over="ignore"):
        xt = x.astype(np_dtype(dtype))
    s = two_chunks_sliced(blocks_from_numpy(xt, layout), len(xt) // 2, offset)
    kept = xt[min(offset, len(xt)) :]
    rows: list[Row] = [list(r) for r in kept.tolist()]
    labels = labels_of(x.shape[1])
    out = s.to_frame().select(argmax("s").alias("i"), decode("s", labels).alias("d"))
    assert out["i"].to_list() == ref_argmax(rows, dtype, zero_is_null=False)
    expected = [
        None if i is None else labels[i] for i in ref_argmax(rows, dtype, zero_is_null=True)
    ]
    assert out["d"].to_list() == expected


# ============================================================================ extreme inputs
# DESIGN §4: the perturbed score is (x - max) / tau + g, so the row maximum comes off
# before any rounding can lose the noise, and no tau overflows.


@pytest.mark.parametrize(
    ("dtype", "value", "k"),
    [
        (pl.Float64(), 1e17, 2),
        (pl.Float64(), -1e300, 3),
        (pl.Float32(), 1e7, 3),
        (pl.Float32(), 3e38, 2),
    ],
)
def test_sampling_equal_huge_logits_is_uniform(dtype: pl.DataType, value: float, k: int) -> None:
    n = 30_000
    x = np.full((n, k), value, dtype=np_dtype(dtype))
    labels = labels_of(k)
    for layout in ("array", "struct", "list"):
        df = blocks_from_numpy(x, layout).to_frame()
        got = df.select(
            decode("s", None if layout == "struct" else labels, method="sample", seed=17)
        )["s"]
        counts = got.value_counts().sort("s")["count"].to_numpy()
        assert counts.sum() == n, layout
        assert counts.size == k, layout
        assert stats.chisquare(counts).pvalue > ALPHA, (layout, counts)


@pytest.mark.parametrize("tau", [1e-300, 1e-310, 5e-324])
@pytest.mark.parametrize("dtype", [pl.Float64(), pl.Float32()])
def test_tiny_tau_samples_the_argmax(dtype: pl.DataType, tau: float) -> None:
    rows = [[1.0, 2.0], [2.0, 1.0], [-5.0, -4.0], [0.0, 1e-30]]
    x = np.asarray(rows * 500, dtype=np_dtype(dtype))
    for layout in ("array", "struct", "list"):
        df = blocks_from_numpy(x, layout).to_frame()
        labels = None if layout == "struct" else labels_of(2)
        got = df.select(decode("s", labels, method="sample", tau=tau, seed=3))["s"]
        want = df.select(decode("s", labels))["s"]
        assert_series_equal(got, want, check_names=False)


@st.composite
def shifted_rows(draw: st.DrawFn) -> tuple[bool, list[int], int, int, float]:
    """Integer logits `a`, a shift `c` and a scale `2**p` such that every `(a + c) * 2**p`
    is exact: f64 logits up to about 1e300, f32 up to about 1e30."""
    f32 = draw(st.booleans())
    k = draw(st.integers(1, 9))
    a = draw(st.lists(st.integers(-1000, 1000), min_size=k, max_size=k))
    c = draw(st.integers(-(2**12), 2**12) if f32 else st.integers(-(2**40), 2**40))
    p = draw(st.integers(-30, 76) if f32 else st.integers(-60, 950))
    t = draw(st.sampled_from([0.25, 1.0, 3.0]))
    return f32, a, c, p, t


@settings(max_examples=60, deadline=None)
@given(case=shifted_rows())
@example(case=(False, [3, 1, 2], 2**40, 950, 1.0))  # logits near 1e300
@example(case=(False, [-3, -1, -2], -(2**40), 950, 1.0))  # near -1e300
@example(case=(True, [3, 1, 2], 2**12, 76, 1.0))  # Float32 logits near 3e26
@example(case=(True, [0, 0, 0], 2**12, 11, 1.0))  # the same logits, far from 0
def test_sampling_is_invariant_to_a_shift_and_a_common_scale(
    case: tuple[bool, list[int], int, int, float],
) -> None:
    """Adding a constant to every logit of a row never changes a draw, nor scaling the
    logits and tau by the same power of two, whatever the magnitude."""
    f32, a, c, p, t = case
    dtype = pl.Float32() if f32 else pl.Float64()
    n = 64
    base = np.asarray([a] * n, dtype=np.float64)
    scale = 2.0**p
    shifted = (base + c) * scale
    assert np.array_equal(shifted / scale - c, base)  # the shift is exact
    labels = labels_of(len(a))
    frame = pl.DataFrame(
        {
            "base": base.astype(np_dtype(dtype)),
            "shifted": shifted.astype(np_dtype(dtype)),
            "plus_c": (base + c).astype(np_dtype(dtype)),
        }
    )
    out = frame.select(
        base=decode("base", labels, method="sample", tau=t, seed=5),
        shifted=decode("shifted", labels, method="sample", tau=t * scale, seed=5),
        hard_base=gumbel_softmax("base", hard=True, seed=6),
        hard_shifted=gumbel_softmax("plus_c", hard=True, seed=6),
    )
    assert_series_equal(out["base"], out["shifted"], check_names=False)
    assert_series_equal(out["hard_base"], out["hard_shifted"], check_names=False)
