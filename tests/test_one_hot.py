"""Tests of ``one_hot`` (DESIGN §3) against independent references.

The references are scikit-learn's ``OneHotEncoder``, Polars' ``DataFrame.to_dummies``
and :func:`reference_one_hot`, a plain-Python reading of DESIGN §3. No test compares the
plugin with its own output, except where the contract itself is an equality (the lazy,
streaming, serialized, windowed and chunked paths must agree with the eager result,
which is checked against the reference in the same test).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars._typing import PolarsDataType
from polars.testing import assert_frame_equal, assert_series_equal
from sklearn.preprocessing import OneHotEncoder

from polars_gumbel import one_hot

Label = Union[str, int, bool]
Row = Optional[list[int]]
Layout = Literal["struct", "array"]
Unknown = Literal["error", "zeros", "null", "other"]
Nulls = Literal["null", "zeros", "category"]

INDICATOR_DTYPES: list[PolarsDataType] = [pl.UInt8, pl.Boolean, pl.Float32, pl.Float64]
NUMPY_DTYPES: dict[PolarsDataType, type[np.generic]] = {
    pl.UInt8: np.uint8,
    pl.Boolean: np.bool_,
    pl.Float32: np.float32,
    pl.Float64: np.float64,
}
LAYOUTS: list[Layout] = ["struct", "array"]
UNKNOWNS: list[Unknown] = ["error", "zeros", "null", "other"]
NULLS: list[Nulls] = ["null", "zeros", "category"]

# The class every error raised inside the plugin (plan or evaluation) surfaces as.
PLUGIN_ERROR = pl.exceptions.ComputeError


# --------------------------------------------------------------------------------------
# The reference: DESIGN §3 in plain Python.
# --------------------------------------------------------------------------------------


class UnknownValueError(Exception):
    """The reference met a value outside the categories under ``unknown="error"``."""

    def __init__(self, value: Label) -> None:
        super().__init__(value)
        self.value = value


def label_of(category: Label) -> str:
    """The label of a category in field names: the text, the decimal, ``false``/``true``."""
    if isinstance(category, bool):
        return "true" if category else "false"
    return str(category)


def reference_one_hot(
    values: Sequence[Label | None],
    categories: Sequence[Label],
    *,
    prefix: str = "x",
    separator: str = "_",
    drop_first: bool = False,
    unknown: Unknown = "error",
    nulls: Nulls = "null",
    other_label: str = "other",
) -> tuple[list[str], list[Row]]:
    """The field names and rows (``None`` for a null row) DESIGN §3 prescribes."""
    labels = [label_of(c) for c in categories][int(drop_first) :]
    null_index = other_index = None
    if nulls == "category":
        null_index = len(labels)
        labels.append("null")
    if unknown == "other":
        other_index = len(labels)
        labels.append(other_label)
    width = len(labels)
    # Keyed by (type, value) so that True and 1 never meet.
    position = {(type(c), c): i - int(drop_first) for i, c in enumerate(categories)}
    rows: list[Row] = []
    for v in values:
        hot: int | None
        if v is None:
            if nulls == "null":
                rows.append(None)
                continue
            hot = null_index
        elif (type(v), v) in position:
            hot = position[(type(v), v)]
            hot = hot if hot >= 0 else None
        else:
            if unknown == "error":
                raise UnknownValueError(v)
            if unknown == "null":
                rows.append(None)
                continue
            hot = other_index
        row = [0] * width
        if hot is not None:
            row[hot] = 1
        rows.append(row)
    return [f"{prefix}{separator}{lab}" for lab in labels], rows


def expected_frame(
    name: str,
    fields: Sequence[str],
    rows: Sequence[Row],
    *,
    layout: Layout = "struct",
    dtype: PolarsDataType = pl.UInt8,
) -> pl.DataFrame:
    """The reference rows as a one-column frame of the documented output dtype.

    Null rows are null on the struct and on every field (what ``unnest`` shows).
    """
    width = len(fields)
    if layout == "array":
        series = pl.Series(name, list(rows), dtype=pl.Array(pl.UInt8, width))
        return series.cast(pl.Array(dtype, width)).to_frame()
    columns = {f: [None if r is None else r[j] for r in rows] for j, f in enumerate(fields)}
    valid = pl.Series("valid", [r is not None for r in rows], dtype=pl.Boolean)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(fields, pl.UInt8))
    return frame.select(
        pl.when(valid).then(pl.struct(pl.all().cast(dtype))).otherwise(None).alias(name)
    )


def reference_frame(
    values: Sequence[Label | None],
    categories: Sequence[Label],
    *,
    name: str = "x",
    layout: Layout = "struct",
    dtype: PolarsDataType = pl.UInt8,
    prefix: str | None = None,
    separator: str = "_",
    drop_first: bool = False,
    unknown: Unknown = "error",
    nulls: Nulls = "null",
    other_label: str = "other",
) -> pl.DataFrame:
    fields, rows = reference_one_hot(
        values,
        categories,
        prefix=name if prefix is None else prefix,
        separator=separator,
        drop_first=drop_first,
        unknown=unknown,
        nulls=nulls,
        other_label=other_label,
    )
    return expected_frame(name, fields, rows, layout=layout, dtype=dtype)


def numpy_one_hot(values: Sequence[str], categories: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Row-major indicators set by fancy indexing; an unknown value gives a row of zeros."""
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(values), len(categories)), dtype=np.uint8)
    rows = [r for r, v in enumerate(values) if v in index]
    out[rows, [index[values[r]] for r in rows]] = 1
    return out


def as_matrix(out: pl.DataFrame, column: str, layout: Layout) -> npt.NDArray[Any]:
    """The encoded column as an (n, K) numpy matrix."""
    if layout == "struct":
        return out.select(column).unnest(column).to_numpy()
    return out[column].to_numpy()


def sklearn_matrix(
    values: Sequence[Any], categories: Sequence[Any], *, handle_unknown: str = "error"
) -> npt.NDArray[np.uint8]:
    encoder = OneHotEncoder(
        categories=[list(categories)],
        sparse_output=False,
        dtype=np.uint8,
        handle_unknown=handle_unknown,
    )
    column = np.array(values, dtype=object).reshape(-1, 1)
    return np.asarray(encoder.fit_transform(column), dtype=np.uint8)


# --------------------------------------------------------------------------------------
# Tier 1a: the Adult table against scikit-learn and to_dummies.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", INDICATOR_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_adult_matches_sklearn(
    adult: pl.DataFrame,
    adult_categorical: tuple[str, ...],
    layout: Layout,
    dtype: PolarsDataType,
) -> None:
    # Categories in order of first appearance: the output must follow the given order,
    # not a sorted one.
    categories = {c: adult[c].unique(maintain_order=True).to_list() for c in adult_categorical}
    encoder = OneHotEncoder(
        categories=[categories[c] for c in adult_categorical],
        sparse_output=False,
        dtype=np.float64,
    )
    raw = adult.select(adult_categorical).to_numpy().astype(object)
    expected = encoder.fit_transform(raw).astype(NUMPY_DTYPES[dtype])
    expected_names = list(encoder.get_feature_names_out(list(adult_categorical)))

    out = adult.select(
        one_hot(c, categories[c], layout=layout, dtype=dtype) for c in adult_categorical
    )
    if layout == "struct":
        assert out.schema == pl.Schema(
            {c: pl.Struct({f"{c}_{k}": dtype for k in categories[c]}) for c in adult_categorical}
        )
        flat = out.unnest(adult_categorical)
        assert flat.columns == expected_names
        got = flat.to_numpy()
    else:
        assert out.schema == pl.Schema(
            {c: pl.Array(dtype, len(categories[c])) for c in adult_categorical}
        )
        got = np.hstack([out[c].to_numpy() for c in adult_categorical])
    assert got.dtype == NUMPY_DTYPES[dtype]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_adult_unknown_zeros_matches_sklearn_ignore(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...], layout: Layout
) -> None:
    for column in adult_categorical:
        seen = sorted(adult[column].unique().to_list())
        # Keep two categories of every three: the third becomes unknown.
        kept = [c for i, c in enumerate(seen) if i % 3 != 1]
        expected = sklearn_matrix(adult[column].to_list(), kept, handle_unknown="ignore")
        out = adult.select(one_hot(column, kept, layout=layout, unknown="zeros"))
        got = as_matrix(out, column, layout)
        assert got.shape == (adult.height, len(kept))
        np.testing.assert_array_equal(got, expected)
        # The left-out values really occur, so the zero rows are exercised.
        assert int((expected.sum(axis=1) == 0).sum()) > 0


def to_dummies_categories(series: pl.Series, *, drop_first: bool) -> list[Any]:
    """The categories that make ``one_hot`` mean what ``to_dummies`` does on ``series``.

    ``to_dummies`` sorts the labels as text (integers too: -1, 10, 3). With
    ``drop_first=True`` it drops the value of the *first row*, not the first sorted one,
    while ``one_hot`` drops the first category it is given: so that value goes first.
    """
    categories = sorted(series.drop_nulls().unique().to_list(), key=str)
    if drop_first:
        first = series[0]
        assert first is not None
        categories.remove(first)
        categories.insert(0, first)
    return categories


@pytest.mark.parametrize("drop_first", [False, True])
def test_adult_matches_to_dummies(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...], drop_first: bool
) -> None:
    columns = [*adult_categorical, "education-num"]
    expected = adult.select(columns).to_dummies(drop_first=drop_first)
    out = adult.select(
        one_hot(c, to_dummies_categories(adult[c], drop_first=drop_first), drop_first=drop_first)
        for c in columns
    )
    assert_frame_equal(out.unnest(columns), expected)


@pytest.mark.parametrize("drop_first", [False, True])
def test_adult_with_nulls_matches_to_dummies(adult: pl.DataFrame, drop_first: bool) -> None:
    # "?" marks a missing value in the published table: make it a real null.
    columns = ["workclass", "occupation", "native-country"]
    data = adult.select(pl.when(pl.col(c) != " ?").then(pl.col(c)).alias(c) for c in columns)
    assert all(data[c].null_count() > 0 for c in columns)
    cats = {c: to_dummies_categories(data[c], drop_first=drop_first) for c in columns}

    as_category = data.select(
        one_hot(c, cats[c], nulls="category", drop_first=drop_first) for c in columns
    )
    assert_frame_equal(as_category.unnest(columns), data.to_dummies(drop_first=drop_first))

    as_zeros = data.select(
        one_hot(c, cats[c], nulls="zeros", drop_first=drop_first) for c in columns
    )
    assert_frame_equal(
        as_zeros.unnest(columns), data.to_dummies(drop_first=drop_first, drop_nulls=True)
    )


def test_boolean_and_integer_match_to_dummies() -> None:
    df = pl.DataFrame(
        {
            "b": [True, False, None, True],
            "i": pl.Series([3, -1, 10, None], dtype=pl.Int16),
        }
    )
    expected = df.to_dummies()
    out = df.select(
        one_hot("b", nulls="category"), one_hot("i", [-1, 10, 3], nulls="category")
    ).unnest("b", "i")
    # Same fields and values; the order differs where it must: to_dummies sorts "null" as
    # a label among the others (false, null, true), one_hot puts it after the categories.
    assert out.columns == ["b_false", "b_true", "b_null", "i_-1", "i_10", "i_3", "i_null"]
    assert sorted(expected.columns) == sorted(out.columns)
    assert_frame_equal(out, expected.select(out.columns))


# --------------------------------------------------------------------------------------
# Tier 1b: every option of DESIGN §3 against the reference.
# --------------------------------------------------------------------------------------

STRINGS = ["b", "a", None, "c", "a", "zz", "b", None]
STRING_CATS = ["b", "a", "c"]


@pytest.mark.parametrize("dtype", INDICATOR_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_string_written_out(layout: Layout, dtype: PolarsDataType) -> None:
    df = pl.DataFrame({"x": ["b", "a", None, "c"]})
    out = df.select(one_hot("x", ["a", "b", "c"], layout=layout, dtype=dtype))
    expected = expected_frame(
        "x",
        ["x_a", "x_b", "x_c"],
        [[0, 1, 0], [1, 0, 0], None, [0, 0, 1]],
        layout=layout,
        dtype=dtype,
    )
    assert_frame_equal(out, expected)


@pytest.mark.parametrize("input_dtype", [pl.String, pl.Categorical])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nulls", NULLS)
@pytest.mark.parametrize("unknown", ["zeros", "null", "other"])
@pytest.mark.parametrize("drop_first", [False, True])
def test_option_grid(
    input_dtype: PolarsDataType,
    layout: Layout,
    nulls: Nulls,
    unknown: Unknown,
    drop_first: bool,
) -> None:
    df = pl.DataFrame({"x": pl.Series(STRINGS, dtype=input_dtype)})
    options: dict[str, Any] = {"drop_first": drop_first, "unknown": unknown, "nulls": nulls}
    out = df.select(one_hot("x", STRING_CATS, layout=layout, dtype=pl.Float32, **options))
    expected = reference_frame(STRINGS, STRING_CATS, layout=layout, dtype=pl.Float32, **options)
    assert_frame_equal(out, expected)


def test_categories_as_series() -> None:
    # The signature accepts a pl.Series of categories, e.g. from `unique()`.
    values = ["b", None, "a", "b"]
    df = pl.DataFrame({"x": values, "n": pl.Series([3, 1, None, 2], dtype=pl.UInt16)})
    out = df.select(
        one_hot("x", pl.Series(["b", "a"])), one_hot("n", pl.Series([1, 2, 3]), nulls="zeros")
    )
    expected = reference_frame(values, ["b", "a"]).hstack(
        reference_frame([3, 1, None, 2], [1, 2, 3], name="n", nulls="zeros")
    )
    assert_frame_equal(out, expected)


def test_nulls_category_and_other_field_order() -> None:
    df = pl.DataFrame({"x": ["a", None, "q", "b"]})
    out = df.select(one_hot("x", ["b", "a"], unknown="other", nulls="category"))
    expected = expected_frame(
        "x",
        ["x_b", "x_a", "x_null", "x_other"],
        [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]],
    )
    assert_frame_equal(out, expected)


def test_other_label_prefix_separator() -> None:
    df = pl.DataFrame({"x": ["a", "q", None]})
    out = df.select(
        one_hot(
            "x",
            ["a"],
            prefix="P",
            separator="::",
            unknown="other",
            nulls="category",
            other_label="rest",
        )
    )
    expected = expected_frame(
        "x", ["P::a", "P::null", "P::rest"], [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    )
    assert_frame_equal(out, expected)


def test_prefix_defaults_to_output_name() -> None:
    df = pl.DataFrame({"x": ["a", "b"]})
    out = df.select(one_hot(pl.col("x").alias("sex"), ["a", "b"]))
    assert_frame_equal(out, expected_frame("sex", ["sex_a", "sex_b"], [[1, 0], [0, 1]]))
    empty_prefix = df.select(one_hot("x", ["a", "b"], prefix=""))
    assert_frame_equal(empty_prefix, expected_frame("x", ["_a", "_b"], [[1, 0], [0, 1]]))


def test_drop_first_rows_of_first_category_are_zeros() -> None:
    df = pl.DataFrame({"x": ["a", "b", "c", None]})
    out = df.select(one_hot("x", ["a", "b", "c"], drop_first=True))
    expected = expected_frame("x", ["x_b", "x_c"], [[0, 0], [1, 0], [0, 1], None])
    assert_frame_equal(out, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_null_rows_are_null_on_struct_and_fields(layout: Layout) -> None:
    df = pl.DataFrame({"x": ["a", None, "zz", "b", None]})
    out = df.select(one_hot("x", ["a", "b"], layout=layout, unknown="null"))
    expected_null = pl.Series("x", [False, True, True, False, True])
    assert_series_equal(out["x"].is_null(), expected_null)
    if layout == "struct":
        for field in out.unnest("x").iter_columns():
            assert_series_equal(field.is_null(), expected_null.alias(field.name))
    else:
        assert_series_equal(out["x"].arr.get(0).is_null(), expected_null)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_categorical_input(layout: Layout) -> None:
    # A Categorical column whose lexical and physical orders both differ from the
    # requested one, with a value the categories do not list.
    values = ["m", "z", "a", None, "m", "q"]
    df = pl.DataFrame({"x": pl.Series(values, dtype=pl.Categorical)})
    cats = ["z", "m", "a"]
    out = df.select(one_hot("x", cats, layout=layout, unknown="other"))
    assert_frame_equal(out, reference_frame(values, cats, layout=layout, unknown="other"))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_enum_categories_none_uses_enum_order(layout: Layout) -> None:
    values = ["low", "high", None, "mid", "low"]
    enum = pl.Enum(["mid", "low", "high"])
    df = pl.DataFrame({"x": pl.Series(values, dtype=enum)})
    out = df.select(one_hot("x", layout=layout))
    assert_frame_equal(out, reference_frame(values, ["mid", "low", "high"], layout=layout))
    assert out.schema["x"] == (
        pl.Struct({"x_mid": pl.UInt8, "x_low": pl.UInt8, "x_high": pl.UInt8})
        if layout == "struct"
        else pl.Array(pl.UInt8, 3)
    )


def test_enum_with_explicit_categories() -> None:
    values = ["low", "high", None, "mid"]
    df = pl.DataFrame({"x": pl.Series(values, dtype=pl.Enum(["mid", "low", "high"]))})
    out = df.select(one_hot("x", ["high", "low"], unknown="other", nulls="zeros"))
    expected = reference_frame(values, ["high", "low"], unknown="other", nulls="zeros")
    assert_frame_equal(out, expected)


def test_boolean_categories_none_is_false_true() -> None:
    values = [True, None, False, True]
    df = pl.DataFrame({"x": values})
    out = df.select(one_hot("x"))
    expected = expected_frame("x", ["x_false", "x_true"], [[0, 1], None, [1, 0], [0, 1]])
    assert_frame_equal(out, expected)


def test_boolean_explicit_categories() -> None:
    values = [True, None, False, True]
    df = pl.DataFrame({"x": values})
    out = df.select(one_hot("x", [True], unknown="zeros", nulls="category", dtype=pl.Boolean))
    expected = reference_frame(values, [True], unknown="zeros", nulls="category", dtype=pl.Boolean)
    assert_frame_equal(out, expected)
    assert out.unnest("x").columns == ["x_true", "x_null"]


SIGNED: list[PolarsDataType] = [pl.Int8, pl.Int16, pl.Int32, pl.Int64]
UNSIGNED: list[PolarsDataType] = [pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64]


@pytest.mark.parametrize("int_dtype", SIGNED + UNSIGNED)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_integer_input(int_dtype: PolarsDataType, layout: Layout) -> None:
    signed = int_dtype in SIGNED
    values: list[int | None] = [5, 0, None, 7, 5, 100] + ([-3, -128] if signed else [255])
    cats = [7, 5, 0] + ([-3] if signed else []) + [1000]  # 1000 fits no 8-bit column
    df = pl.DataFrame({"x": pl.Series(values, dtype=int_dtype)})
    out = df.select(one_hot("x", cats, layout=layout, unknown="other", dtype=pl.Float64))
    expected = reference_frame(values, cats, layout=layout, unknown="other", dtype=pl.Float64)
    assert_frame_equal(out, expected)
    if layout == "struct":
        names = ["x_7", "x_5", "x_0", *(["x_-3"] if signed else []), "x_1000", "x_other"]
        assert out.unnest("x").columns == names


def test_int64_extremes() -> None:
    lo, hi = -(2**63), 2**63 - 1
    values = [lo, hi, 0, None, lo + 1, hi - 1]
    df = pl.DataFrame({"x": pl.Series(values, dtype=pl.Int64)})
    out = df.select(one_hot("x", [hi, lo], unknown="zeros"))
    assert_frame_equal(out, reference_frame(values, [hi, lo], unknown="zeros"))


def test_uint64_beyond_int64_is_an_unknown_value() -> None:
    # 2**64 - 1 is a valid UInt64 value that no category (they are Int64) can equal, so
    # DESIGN §3's `unknown` policy applies to it like to any other unknown value.
    big = 2**64 - 1
    values = [1, big, None, 2**63]
    df = pl.DataFrame({"x": pl.Series(values, dtype=pl.UInt64)})
    policies: tuple[Unknown, ...] = ("zeros", "null", "other")
    for unknown in policies:
        out = df.select(one_hot("x", [1, 2], unknown=unknown))
        assert_frame_equal(out, reference_frame(values, [1, 2], unknown=unknown))
    with pytest.raises(PLUGIN_ERROR, match=rf"{big}.*column 'x'"):
        df.select(one_hot("x", [1, 2]))


# --------------------------------------------------------------------------------------
# Plans: schema without data, engines, serialization, windows and groups.
# --------------------------------------------------------------------------------------

SCHEMA_CASES: list[tuple[PolarsDataType, list[Label] | None, dict[str, Any], PolarsDataType]] = [
    (pl.String, ["a", "b"], {}, pl.Struct({"x_a": pl.UInt8, "x_b": pl.UInt8})),
    (
        pl.String,
        ["a", "b", "c"],
        {"layout": "array", "dtype": pl.Float32, "nulls": "category", "unknown": "other"},
        pl.Array(pl.Float32, 5),
    ),
    (
        pl.Categorical,
        ["a", "b"],
        {
            "dtype": pl.Boolean,
            "prefix": "p",
            "separator": ".",
            "drop_first": True,
            "unknown": "other",
            "other_label": "o",
        },
        pl.Struct({"p.b": pl.Boolean, "p.o": pl.Boolean}),
    ),
    (
        pl.Enum(["z", "y"]),
        None,
        {"dtype": pl.Float64, "nulls": "category"},
        pl.Struct({"x_z": pl.Float64, "x_y": pl.Float64, "x_null": pl.Float64}),
    ),
    (pl.Boolean, None, {"layout": "array"}, pl.Array(pl.UInt8, 2)),
    (pl.UInt64, [3, 1], {"drop_first": True}, pl.Struct({"x_1": pl.UInt8})),
    (pl.Int8, [-1], {"unknown": "other"}, pl.Struct({"x_-1": pl.UInt8, "x_other": pl.UInt8})),
]


@pytest.mark.parametrize(("input_dtype", "cats", "options", "expected"), SCHEMA_CASES)
def test_collect_schema_without_data(
    input_dtype: PolarsDataType,
    cats: list[Label] | None,
    options: dict[str, Any],
    expected: PolarsDataType,
) -> None:
    lf = pl.LazyFrame(schema={"x": input_dtype})
    schema = lf.select(one_hot("x", cats, **options)).collect_schema()
    assert schema == pl.Schema({"x": expected})
    # The empty frame evaluates to exactly that schema too.
    assert lf.select(one_hot("x", cats, **options)).collect().schema == schema


def test_collect_schema_does_not_read_data() -> None:
    # Evaluating this plan fails on the unknown value; resolving its schema must not.
    lf = pl.LazyFrame({"x": ["a", "not a category"]}).select(one_hot("x", ["a", "b"]))
    assert lf.collect_schema() == pl.Schema({"x": pl.Struct({"x_a": pl.UInt8, "x_b": pl.UInt8})})
    with pytest.raises(PLUGIN_ERROR, match="not a category"):
        lf.collect()


PLAN_VALUES = ["a", "b", None, "c", "q", "a", None, "b"] * 50
PLAN_OPTIONS: list[dict[str, Any]] = [
    {},
    {"unknown": "other", "nulls": "category", "dtype": pl.Float32},
    {"unknown": "null", "nulls": "zeros", "drop_first": True, "dtype": pl.Boolean},
]
PLAN_CATS = ["c", "a", "b"]


def _plan_case(layout: Layout, options: dict[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The input (with a group column) and the reference output for the plan tests."""
    values = (
        PLAN_VALUES if options.get("unknown") else [v if v != "q" else "a" for v in PLAN_VALUES]
    )
    df = pl.DataFrame({"x": values, "g": [i % 7 for i in range(len(values))]})
    expected = reference_frame(values, PLAN_CATS, layout=layout, **options)
    return df, expected


@pytest.mark.parametrize("options", PLAN_OPTIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_lazy_engines_and_sink_agree(
    tmp_path: Path, layout: Layout, options: dict[str, Any]
) -> None:
    df, expected = _plan_case(layout, options)
    expr = one_hot("x", PLAN_CATS, layout=layout, **options)
    eager = df.select(expr)
    assert_frame_equal(eager, expected)
    lf = df.lazy().select(expr)
    assert lf.collect_schema() == expected.schema
    assert_frame_equal(lf.collect(), eager)
    assert_frame_equal(lf.collect(engine="streaming"), eager)
    path = tmp_path / "encoded.parquet"
    lf.sink_parquet(path)
    assert_frame_equal(pl.read_parquet(path), eager)
    # The same through a scan: scan_parquet -> encode -> sink_parquet.
    source = tmp_path / "source.parquet"
    df.write_parquet(source)
    scanned = tmp_path / "scanned.parquet"
    pl.scan_parquet(source).select(expr).sink_parquet(scanned)
    assert_frame_equal(pl.read_parquet(scanned), eager)


@pytest.mark.parametrize("options", PLAN_OPTIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_serialized_plan_agrees(layout: Layout, options: dict[str, Any]) -> None:
    df, expected = _plan_case(layout, options)
    lf = df.lazy().select(one_hot("x", PLAN_CATS, layout=layout, **options))
    data = lf.serialize(format="binary")
    restored = pl.LazyFrame.deserialize(io.BytesIO(data), format="binary")
    assert restored.collect_schema() == expected.schema
    assert_frame_equal(restored.collect(), expected)


@pytest.mark.parametrize("options", PLAN_OPTIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_over_agrees(layout: Layout, options: dict[str, Any]) -> None:
    df, expected = _plan_case(layout, options)
    out = df.select(one_hot("x", PLAN_CATS, layout=layout, **options).over("g"))
    assert_frame_equal(out, expected)
    lazy = df.lazy().select(one_hot("x", PLAN_CATS, layout=layout, **options).over("g"))
    assert_frame_equal(lazy.collect(engine="streaming"), expected)


@pytest.mark.parametrize("options", PLAN_OPTIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_group_by_agg_agrees(layout: Layout, options: dict[str, Any]) -> None:
    df, expected = _plan_case(layout, options)
    expected_groups = (
        expected.with_columns(df["g"]).group_by("g", maintain_order=True).agg(pl.col("x"))
    )
    out = df.group_by("g", maintain_order=True).agg(
        one_hot("x", PLAN_CATS, layout=layout, **options)
    )
    assert_frame_equal(out, expected_groups)
    lazy = (
        df.lazy()
        .group_by("g", maintain_order=True)
        .agg(one_hot("x", PLAN_CATS, layout=layout, **options))
        .collect(engine="streaming")
    )
    assert_frame_equal(lazy, expected_groups)


# --------------------------------------------------------------------------------------
# Chunked and sliced inputs.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "input_dtype",
    # The Enum's categories are a superset of the data's, in another order.
    [pl.String, pl.Categorical, pl.Enum(["t", "w", "x", "v", "u"]), pl.Boolean, pl.Int32],
)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_multi_chunk_and_sliced_inputs(input_dtype: PolarsDataType, layout: Layout) -> None:
    pool: list[Label]
    cats: list[Label]
    if input_dtype == pl.Boolean:
        pool, cats = [True, False], [False, True]
    elif input_dtype == pl.Int32:
        pool, cats = [3, -2, 9, 4], [9, 3, -2]
    else:
        pool, cats = ["u", "v", "w", "t"], ["w", "u", "v"]
    rng = np.random.default_rng(12345)
    values: list[Label | None] = [
        None if rng.random() < 0.15 else pool[int(rng.integers(len(pool)))] for _ in range(2000)
    ]
    options: dict[str, Any] = {"layout": layout, "unknown": "other", "nulls": "category"}

    def frame(part: Sequence[Label | None]) -> pl.DataFrame:
        return pl.DataFrame({"x": pl.Series(list(part), dtype=input_dtype)})

    cuts = [0, 1, 333, 334, 1500, 2000]
    chunked = pl.concat([frame(values[a:b]) for a, b in zip(cuts, cuts[1:])], rechunk=False)
    assert chunked["x"].n_chunks() == len(cuts) - 1
    rechunked = chunked.rechunk()

    out = chunked.select(one_hot("x", cats, **options))
    assert_frame_equal(out, reference_frame(values, cats, **options))
    assert_frame_equal(out, rechunked.select(one_hot("x", cats, **options)))

    for source in (rechunked, chunked):
        sliced = source.slice(7, 1000)
        out = sliced.select(one_hot("x", cats, **options))
        assert_frame_equal(out, reference_frame(values[7:1007], cats, **options))
        assert_frame_equal(out, sliced.rechunk().select(one_hot("x", cats, **options)))

    # Null rows (default nulls="null") on a sliced, chunked input keep their positions.
    sliced = chunked.slice(7, 1000)
    out = sliced.select(one_hot("x", cats, layout=layout, unknown="zeros"))
    assert_frame_equal(out, reference_frame(values[7:1007], cats, layout=layout, unknown="zeros"))


@pytest.mark.parametrize("out_dtype", [pl.UInt8, pl.Boolean, pl.Float32, pl.Float64])
@pytest.mark.parametrize(
    ("input_dtype", "cats", "options"),
    [
        # Every category of the Enum is a field, in another order than its codes.
        (pl.Enum(["t", "w", "x", "v", "u"]), ["x", "w", "u", "v", "t"], {}),
        (pl.Enum(["t", "w", "x", "v", "u"]), None, {"drop_first": True}),
        # Enum categories outside the fields: "t" and "x" become zeros or "other".
        (pl.Enum(["t", "w", "x", "v", "u"]), ["w", "u", "v"], {"unknown": "zeros"}),
        (pl.Enum(["t", "w", "x", "v", "u"]), ["w", "u", "v"], {"unknown": "other"}),
        (pl.Categorical, ["w", "u", "v", "t", "x"], {}),
        (pl.Categorical, ["w", "v"], {"unknown": "zeros", "drop_first": True}),
    ],
)
def test_categorical_inputs_without_nulls(
    out_dtype: PolarsDataType,
    input_dtype: PolarsDataType,
    cats: list[str] | None,
    options: dict[str, Any],
) -> None:
    # Categorical and Enum columns without nulls, chunked and sliced, in every output
    # dtype: the encoder compares their codes directly when it can.
    pool = ["u", "v", "w", "t", "x"]
    rng = np.random.default_rng(99)
    values = [pool[i] for i in rng.integers(len(pool), size=3000)]
    cuts = [0, 1000, 1001, 3000]
    chunked = pl.concat(
        [
            pl.DataFrame({"x": pl.Series(values[a:b], dtype=input_dtype)})
            for a, b in zip(cuts, cuts[1:])
        ],
        rechunk=False,
    )
    categories = cats if cats is not None else ["t", "w", "x", "v", "u"]
    for frame, part in ((chunked, values), (chunked.slice(5, 2000), values[5:2005])):
        out = frame.select(one_hot("x", cats, dtype=out_dtype, **options))
        expected = reference_frame(part, categories, dtype=out_dtype, **options)
        assert_frame_equal(out, expected)


# --------------------------------------------------------------------------------------
# Errors.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "cats", "shown"),
    [
        (pl.Series("col", ["a", "b", "zebra"]), ["a", "b"], "zebra"),
        (pl.Series("col", ["a", "zebra"], dtype=pl.Categorical), ["a"], "zebra"),
        (pl.Series("col", ["a", "zebra"], dtype=pl.Enum(["a", "zebra"])), ["a"], "zebra"),
        (pl.Series("col", [1, 2, 42], dtype=pl.Int8), [1, 2], "42"),
        (pl.Series("col", [False, True]), [False], "true"),
    ],
)
def test_unknown_value_error_names_value_and_column(
    series: pl.Series, cats: list[Label], shown: str
) -> None:
    with pytest.raises(PLUGIN_ERROR, match=rf"'{shown}' in column 'col'"):
        series.to_frame().select(one_hot("col", cats))
    with pytest.raises(PLUGIN_ERROR, match=rf"'{shown}' in column 'col'"):
        series.to_frame().lazy().select(one_hot("col", cats)).collect(engine="streaming")


@pytest.mark.parametrize(
    ("dtype", "shown"),
    [(pl.String, "str"), (pl.Categorical, "cat"), (pl.Int64, "i64"), (pl.UInt8, "u8")],
)
def test_categories_required_except_enum_and_boolean(dtype: PolarsDataType, shown: str) -> None:
    lf = pl.LazyFrame(schema={"col": dtype})
    # Raised at plan time: the schema alone is enough to fail.
    with pytest.raises(PLUGIN_ERROR, match=rf"(?s)'col'.*{shown}.*Codec\.fit"):
        lf.select(one_hot("col")).collect_schema()
    with pytest.raises(PLUGIN_ERROR, match=r"Codec\.fit"):
        pl.DataFrame({"col": pl.Series([], dtype=dtype)}).select(one_hot("col"))


@pytest.mark.parametrize("cats", [["a", "b", "a"], [1, 2, 1], [True, True], ["", ""]])
def test_duplicate_categories_rejected_before_planning(cats: list[Label]) -> None:
    dup = next(c for c in cats if cats.count(c) > 1)
    with pytest.raises(ValueError, match=re.escape(f"duplicate category {dup!r}")):
        one_hot("x", cats)  # no frame: the check runs before any plan exists


@pytest.mark.parametrize(
    ("dtype", "cats", "kind", "shown"),
    [
        (pl.String, [1, 2], "integers", "str"),
        (pl.String, [True], "booleans", "str"),
        (pl.Categorical, [1], "integers", "cat"),
        (pl.Int32, ["1", "2"], "strings", "i32"),
        (pl.Boolean, ["true"], "strings", "bool"),
        (pl.Boolean, [0, 1], "integers", "bool"),
        (pl.Int64, [True, False], "booleans", "i64"),
    ],
)
def test_categories_of_wrong_type(
    dtype: PolarsDataType, cats: list[Label], kind: str, shown: str
) -> None:
    lf = pl.LazyFrame(schema={"col": dtype})
    pattern = rf"wrong type for column 'col': got {kind}, but the column has dtype {shown}"
    with pytest.raises(PLUGIN_ERROR, match=pattern):
        lf.select(one_hot("col", cats)).collect_schema()


@pytest.mark.parametrize(
    ("dtype", "shown"),
    [(pl.Float64, "f64"), (pl.Float32, "f32"), (pl.Date, "date"), (pl.List(pl.String), "list")],
)
def test_unsupported_input_dtype(dtype: PolarsDataType, shown: str) -> None:
    lf = pl.LazyFrame(schema={"col": dtype})
    with pytest.raises(PLUGIN_ERROR, match=rf"got {shown}.* for column 'col'"):
        lf.select(one_hot("col", [1])).collect_schema()
    data = pl.DataFrame({"col": pl.Series([1.5, None], dtype=pl.Float64)})
    with pytest.raises(PLUGIN_ERROR, match=r"got f64 for column 'col'"):
        data.select(one_hot("col", [1]))


@pytest.mark.parametrize(
    ("cats", "options", "field"),
    [
        (["a", "null"], {"nulls": "category"}, "x_null"),
        (["other", "a"], {"unknown": "other"}, "x_other"),
        (["a"], {"nulls": "category", "unknown": "other", "other_label": "null"}, "x_null"),
    ],
)
def test_clashing_field_names(cats: list[Label], options: dict[str, Any], field: str) -> None:
    lf = pl.LazyFrame(schema={"x": pl.String})
    with pytest.raises(PLUGIN_ERROR, match=rf"field name '{field}' twice"):
        lf.select(one_hot("x", cats, **options)).collect_schema()


def test_no_fields_left() -> None:
    lf = pl.LazyFrame(schema={"x": pl.String})
    with pytest.raises(PLUGIN_ERROR, match=r"column 'x' would produce no fields"):
        lf.select(one_hot("x", ["a"], drop_first=True)).collect_schema()


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"dtype": pl.Int32}, TypeError, "dtype must be"),
        ({"dtype": "uint8"}, TypeError, "dtype must be"),
        ({"layout": "list"}, ValueError, "layout must be one of.*'list'"),
        ({"unknown": "ignore"}, ValueError, "unknown must be one of.*'ignore'"),
        ({"nulls": "drop"}, ValueError, "nulls must be one of.*'drop'"),
        ({"drop_first": 1}, TypeError, "drop_first must be a bool, got int"),
        ({"separator": 0}, TypeError, "separator must be a str, got int"),
        ({"prefix": 0}, TypeError, "prefix must be a str, got int"),
        ({"other_label": None}, TypeError, "other_label must be a str, got NoneType"),
        ({"categories": "abc"}, TypeError, "categories must be a list"),
        ({"categories": 3}, TypeError, "categories must be a list"),
        ({"categories": []}, ValueError, "categories must not be empty"),
        ({"categories": ["a", 1]}, TypeError, "all be str, all int or all bool, got int, str"),
        ({"categories": [1.5]}, TypeError, "all be str, all int or all bool, got float"),
        ({"categories": [2**63]}, ValueError, f"must fit in Int64, got {2**63}"),
    ],
)
def test_python_validation(kwargs: dict[str, Any], exc: type[Exception], pattern: str) -> None:
    call: dict[str, Any] = {"categories": ["a", "b"], **kwargs}
    with pytest.raises(exc, match=pattern):
        one_hot("x", **call)


def test_expression_argument_type() -> None:
    with pytest.raises(TypeError, match="expected an expression or a column name, got int"):
        one_hot(3, ["a"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Edge cases that must not panic (a panic is a BaseException: it would fail these tests).
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "cats", "labels"),
    [
        (pl.String, ["a", "b"], ["a", "b"]),
        (pl.Categorical, ["a", "b"], ["a", "b"]),
        (pl.Enum(["b", "a"]), None, ["b", "a"]),
        (pl.Boolean, None, ["false", "true"]),
        (pl.UInt64, [1, 2], ["1", "2"]),
    ],
)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nulls", NULLS)
def test_empty_frame(
    dtype: PolarsDataType,
    cats: list[Label] | None,
    labels: list[str],
    layout: Layout,
    nulls: Nulls,
) -> None:
    df = pl.DataFrame({"x": pl.Series([], dtype=dtype)})
    out = df.select(one_hot("x", cats, layout=layout, nulls=nulls, unknown="other"))
    fields = [f"x_{c}" for c in labels] + (["x_null"] if nulls == "category" else [])
    assert_frame_equal(out, expected_frame("x", [*fields, "x_other"], [], layout=layout))


@pytest.mark.parametrize("dtype", [pl.String, pl.Categorical, pl.Int8, pl.Boolean])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nulls", NULLS)
def test_all_null_column(dtype: PolarsDataType, layout: Layout, nulls: Nulls) -> None:
    cats: list[Label] = [True] if dtype == pl.Boolean else [1] if dtype == pl.Int8 else ["a"]
    values: list[Label | None] = [None] * 5
    df = pl.DataFrame({"x": pl.Series(values, dtype=dtype)})
    out = df.select(one_hot("x", cats, layout=layout, nulls=nulls))
    assert_frame_equal(out, reference_frame(values, cats, layout=layout, nulls=nulls))


def test_null_dtype_column_does_not_panic() -> None:
    # `pl.DataFrame({"x": [None, None]})` has dtype Null: not one the contract lists, so
    # a clear error naming the dtype and the column (not a panic).
    df = pl.DataFrame({"x": [None, None]})
    assert df.schema["x"] == pl.Null
    with pytest.raises(PLUGIN_ERROR, match=r"got null for column 'x'"):
        df.select(one_hot("x", ["a"]))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_category(layout: Layout) -> None:
    values = ["only", None, "only", "else"]
    df = pl.DataFrame({"x": values})
    out = df.select(one_hot("x", ["only"], layout=layout, unknown="zeros"))
    expected = expected_frame("x", ["x_only"], [[1], None, [1], [0]], layout=layout)
    assert_frame_equal(out, expected)


@pytest.mark.parametrize("input_dtype", ["String", "Categorical", "Enum"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_ten_thousand_categories(input_dtype: str, layout: Layout) -> None:
    k = 10_000
    cats = [f"c{i}" for i in range(k)]
    rng = np.random.default_rng(7)
    # Random draws, some of them unknown (c10000 and up), the first and last included.
    picks = [0, k - 1, k, *rng.integers(0, k + 50, size=1500).tolist()]
    values = [f"c{i}" for i in picks]
    # The Enum's categories, in another order than `cats` and with the unknown labels
    # among them, need more than one byte per code.
    dtypes: dict[str, PolarsDataType] = {
        "String": pl.String,
        "Categorical": pl.Categorical,
        "Enum": pl.Enum([f"c{i}" for i in reversed(range(k + 50))]),
    }
    df = pl.DataFrame({"x": pl.Series(values, dtype=dtypes[input_dtype])})
    out = df.select(one_hot("x", cats, layout=layout, unknown="zeros"))
    if layout == "struct":
        assert out.schema["x"] == pl.Struct({f"x_{c}": pl.UInt8 for c in cats})
    else:
        assert out.schema["x"] == pl.Array(pl.UInt8, k)
    np.testing.assert_array_equal(as_matrix(out, "x", layout), numpy_one_hot(values, cats))


UNICODE_CATS = ["", "é", "日本語", "🙂", " lead", "a b", "Ä\u0308"]


@pytest.mark.parametrize("input_dtype", [pl.String, pl.Categorical])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_unicode_and_empty_labels(input_dtype: PolarsDataType, layout: Layout) -> None:
    values = ["🙂", "", None, "日本語", "e\u0301", "é", " lead", "Ä\u0308", "a b"]
    df = pl.DataFrame({"x": pl.Series(values, dtype=input_dtype)})
    out = df.select(one_hot("x", UNICODE_CATS, layout=layout, unknown="other"))
    # "e\u0301" is not "é" (no Unicode normalisation): it is unknown.
    assert_frame_equal(out, reference_frame(values, UNICODE_CATS, layout=layout, unknown="other"))
    if layout == "struct":
        assert out.unnest("x").columns == [f"x_{c}" for c in UNICODE_CATS] + ["x_other"]


@pytest.mark.parametrize("separator", ["_", "::", ""])
def test_labels_containing_the_separator(separator: str) -> None:
    cats = ["a_b", "a", "_", "b_", "a::b", "::"]
    values = ["a", "_", "a_b", None, "::", "a::b", "b_"]
    df = pl.DataFrame({"x": values})
    out = df.select(one_hot("x", cats, separator=separator, nulls="category"))
    expected = reference_frame(values, cats, separator=separator, nulls="category")
    assert_frame_equal(out, expected)
    assert out.unnest("x").columns == [f"x{separator}{c}" for c in [*cats, "null"]]


# --------------------------------------------------------------------------------------
# Property tests against the reference.
# --------------------------------------------------------------------------------------

ALPHABET = ["a", "b", "c", "", "é", "a_b", "_", "🙂"]


@st.composite
def chunked_frames(
    draw: st.DrawFn, elements: st.SearchStrategy[Any], dtype: PolarsDataType
) -> tuple[pl.DataFrame, list[Any]]:
    """A frame of several chunks, sliced at an offset, and the values it holds."""
    values = draw(st.lists(st.none() | elements, max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(values)), max_size=3)))
    bounds = [0, *cuts, len(values)]
    parts = [
        pl.DataFrame({"x": pl.Series(values[a:b], dtype=dtype)}) for a, b in zip(bounds, bounds[1:])
    ]
    frame = pl.concat(parts, rechunk=False)
    offset = draw(st.integers(0, len(values)))
    return frame.slice(offset), values[offset:]


def _check_against_reference(
    frame: pl.DataFrame,
    values: Sequence[Label | None],
    cats: Sequence[Label] | None,
    options: dict[str, Any],
    *,
    implied: Sequence[Label] = (),
) -> None:
    """Encode ``frame`` and compare with the reference; ``implied`` stands for ``None``."""
    expr = one_hot("x", None if cats is None else list(cats), **options)
    ref_cats = implied if cats is None else cats
    ref_options = {k: v for k, v in options.items() if k not in ("layout", "dtype")}
    if not reference_one_hot([], ref_cats, **ref_options)[0]:
        # drop_first on one category and no extra field: nothing left to encode.
        with pytest.raises(PLUGIN_ERROR, match="no fields"):
            frame.select(expr)
        return
    try:
        fields, rows = reference_one_hot(values, ref_cats, **ref_options)
    except UnknownValueError:
        # Chunks may be encoded in parallel: the message names *an* unknown value, not
        # necessarily the first one.
        known = {(type(c), c) for c in ref_cats}
        unknown = {label_of(v) for v in values if v is not None and (type(v), v) not in known}
        alternatives = "|".join(re.escape(u) for u in sorted(unknown))
        with pytest.raises(PLUGIN_ERROR, match=rf"'(?:{alternatives})' in column 'x'"):
            frame.select(expr)
        return
    expected = expected_frame("x", fields, rows, layout=options["layout"], dtype=options["dtype"])
    assert_frame_equal(frame.select(expr), expected)


option_sets = st.fixed_dictionaries(
    {
        "layout": st.sampled_from(LAYOUTS),
        "dtype": st.sampled_from(INDICATOR_DTYPES),
        "drop_first": st.booleans(),
        "unknown": st.sampled_from(UNKNOWNS),
        "nulls": st.sampled_from(NULLS),
        "separator": st.sampled_from(["_", "-", ""]),
    }
)

DEFAULTS: dict[str, Any] = {
    "layout": "struct",
    "dtype": pl.UInt8,
    "drop_first": False,
    "unknown": "zeros",
    "nulls": "null",
    "separator": "_",
}


def _frame(values: list[Any], dtype: PolarsDataType) -> tuple[pl.DataFrame, list[Any]]:
    return pl.DataFrame({"x": pl.Series(values, dtype=dtype)}), values


@settings(max_examples=150, deadline=None)
@given(
    data=st.sampled_from(
        list[PolarsDataType]([pl.String, pl.Categorical, pl.Enum(ALPHABET[::-1])])
    ).flatmap(lambda d: chunked_frames(st.sampled_from(ALPHABET), d)),
    cats=st.lists(st.sampled_from(ALPHABET), min_size=1, unique=True),
    options=option_sets,
)
@example(data=_frame([], pl.String), cats=["a"], options=DEFAULTS)
@example(data=_frame([None, None], pl.String), cats=["a"], options=DEFAULTS)
@example(data=_frame([None, None], pl.Categorical), cats=["a"], options=DEFAULTS)
@example(data=_frame(["a", "a"], pl.String), cats=["a"], options=DEFAULTS)
@example(
    data=_frame(["a", None, "b"], pl.String),
    cats=["a"],
    options={**DEFAULTS, "drop_first": True},
)
@example(
    data=_frame(["b", None, "a"], pl.Categorical),
    cats=["a"],
    options={**DEFAULTS, "drop_first": True, "unknown": "other", "nulls": "category"},
)
@example(
    data=_frame(["", "a_b", "_"], pl.String),
    cats=["", "_", "a_b"],
    options={**DEFAULTS, "layout": "array", "dtype": pl.Boolean},
)
@example(data=_frame(["a", "q"], pl.String), cats=["a"], options={**DEFAULTS, "unknown": "error"})
def test_property_strings(
    data: tuple[pl.DataFrame, list[str | None]],
    cats: list[str],
    options: dict[str, Any],
) -> None:
    frame, values = data
    _check_against_reference(frame, values, cats, options)


INT_DTYPES: dict[PolarsDataType, tuple[int, int]] = {
    pl.Int8: (-128, 127),
    pl.Int16: (-(2**15), 2**15 - 1),
    pl.Int64: (-(2**63), 2**63 - 1),
    pl.UInt8: (0, 255),
    pl.UInt32: (0, 2**32 - 1),
    pl.UInt64: (0, 2**63 - 1),
}


@settings(max_examples=150, deadline=None)
@given(
    data=st.sampled_from(list(INT_DTYPES)).flatmap(
        lambda d: chunked_frames(
            st.integers(-3, 3).filter(lambda v: v >= INT_DTYPES[d][0])
            | st.integers(*INT_DTYPES[d]),
            d,
        )
    ),
    cats=st.lists(st.integers(-4, 4) | st.integers(-(2**63), 2**63 - 1), min_size=1, unique=True),
    options=option_sets,
)
@example(data=_frame([], pl.Int8), cats=[0], options=DEFAULTS)
@example(data=_frame([None], pl.UInt64), cats=[0], options={**DEFAULTS, "nulls": "category"})
@example(data=_frame([-1, 1], pl.Int8), cats=[-1, 1], options={**DEFAULTS, "drop_first": True})
@example(
    data=_frame([2**63 - 1, -(2**63)], pl.Int64),
    cats=[-(2**63), 2**63 - 1],
    options={**DEFAULTS, "unknown": "error"},
)
@example(data=_frame([0, 7], pl.UInt8), cats=[7], options={**DEFAULTS, "unknown": "error"})
def test_property_integers(
    data: tuple[pl.DataFrame, list[int | None]],
    cats: list[int],
    options: dict[str, Any],
) -> None:
    frame, values = data
    _check_against_reference(frame, values, cats, options)


@settings(max_examples=60, deadline=None)
@given(
    data=chunked_frames(st.booleans(), pl.Boolean),
    cats=st.sampled_from([None, [False], [True], [True, False]]),
    options=option_sets,
)
@example(data=_frame([None, None], pl.Boolean), cats=None, options=DEFAULTS)
@example(data=_frame([True], pl.Boolean), cats=[False], options={**DEFAULTS, "unknown": "error"})
def test_property_booleans(
    data: tuple[pl.DataFrame, list[bool | None]],
    cats: list[bool] | None,
    options: dict[str, Any],
) -> None:
    frame, values = data
    # categories=None means [False, True] for a Boolean column.
    _check_against_reference(frame, values, cats, options, implied=[False, True])
