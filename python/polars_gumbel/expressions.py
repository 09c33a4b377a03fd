"""The public expressions."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from polars_gumbel import _validate
from polars_gumbel._plugin import _plugin
from polars_gumbel._typing import (
    Categories,
    DecodeMethod,
    IntoExpr,
    NullPolicy,
    OneHotLayout,
    UnknownPolicy,
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_INDICATOR_DTYPES: dict[Any, str] = {
    pl.UInt8: "uint8",
    pl.Boolean: "boolean",
    pl.Float32: "float32",
    pl.Float64: "float64",
}


_LABEL_DTYPES: dict[Any, str] = {
    pl.String: "string",
    pl.Boolean: "boolean",
    pl.Int8: "int8",
    pl.Int16: "int16",
    pl.Int32: "int32",
    pl.Int64: "int64",
    pl.UInt8: "uint8",
    pl.UInt16: "uint16",
    pl.UInt32: "uint32",
    pl.UInt64: "uint64",
}


def _dtype_name(dtype: Any, table: dict[Any, str]) -> str | None:
    """The plugin's name of a Polars dtype (class or instance) in `table`."""
    return next((name for known, name in table.items() if dtype == known), None)


def _expr(value: IntoExpr, what: str = "column") -> pl.Expr:
    """An input as an expression; every column name it reads is checked here, once,
    before a plan is built (Polars cannot carry a NUL character in a name)."""
    if isinstance(value, str):
        return pl.col(_validate.column_name(what, value))
    if isinstance(value, pl.Expr):
        names = value.meta.root_names()
        output = value.meta.output_name(raise_if_undetermined=False)
        for name in [*names, *([] if output is None else [output])]:
            _validate.column_name(what, name)
        return value
    raise TypeError(f"expected an expression or a column name, got {type(value).__name__}")


def _categories_kwarg(categories: Categories | pl.Series | None) -> dict[str, list[Any]] | None:
    """The categories as the plugin reads them: ``{"string" | "int" | "boolean": [...]}``."""
    if categories is None:
        return None
    if isinstance(categories, (str, bytes)) or not isinstance(categories, Iterable):
        raise TypeError(
            f"categories must be a list of str, int or bool, got {type(categories).__name__}"
        )
    values = list(categories)
    if not values:
        raise ValueError("categories must not be empty")
    kinds = {type(v) for v in values}
    if kinds == {str}:
        kind = "string"
        for v in values:
            _validate.no_nul("categories", v)
    elif kinds == {bool}:
        kind = "boolean"
    elif kinds == {int}:
        kind = "int"
        out_of_range = [v for v in values if not _INT64_MIN <= v <= _INT64_MAX]
        if out_of_range:
            raise ValueError(f"integer categories must fit in Int64, got {out_of_range[0]}")
    else:
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise TypeError(f"categories must all be str, all int or all bool, got {names}")
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate category {v!r} in categories")
        seen.add(v)
    return {kind: values}


def one_hot(
    expr: IntoExpr,
    categories: Categories | pl.Series | None = None,
    *,
    layout: OneHotLayout = "struct",
    dtype: Any = pl.UInt8,
    prefix: str | None = None,
    separator: str = "_",
    drop_first: bool = False,
    unknown: UnknownPolicy = "error",
    nulls: NullPolicy = "null",
    other_label: str = "other",
) -> pl.Expr:
    """One-hot encode a categorical column into a block of indicator fields.

    The output dtype depends only on the options and the input dtype, so it is known
    before any data is read: the expression fits in lazy and streaming plans.

    Parameters
    ----------
    expr
        A String, Categorical, Enum, Boolean or integer column.
    categories
        The categories, in output order. ``None`` is allowed for Enum (its categories)
        and Boolean (``[False, True]``) columns only; learn them from data with
        ``Codec.fit`` otherwise.
    layout
        ``"struct"``: one field per category, named ``{prefix}{separator}{category}``;
        ``"array"``: an ``Array(dtype, K)``.
    dtype
        ``pl.UInt8`` (as ``DataFrame.to_dummies``), ``pl.Boolean``, ``pl.Float32`` or
        ``pl.Float64``.
    prefix
        Field name prefix; the input column's name by default.
    separator
        Between prefix and category in field names.
    drop_first
        Leave out the first category's field: its rows become all zeros.
    unknown
        A value outside ``categories``: ``"error"``, a row of ``"zeros"``, a ``"null"``
        row, or ``"other"``: an extra last field ``{prefix}{separator}{other_label}``.
    nulls
        A null value: a ``"null"`` row, a row of ``"zeros"``, or ``"category"``: an
        extra field ``{prefix}{separator}null`` (before the ``other`` field).
    other_label
        The label of the ``unknown="other"`` field.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import one_hot
    >>> df = pl.DataFrame({"sex": ["Male", "Female", None, "Male"]})
    >>> df.select(one_hot("sex", ["Female", "Male"])).unnest("sex")
    shape: (4, 2)
    ┌────────────┬──────────┐
    │ sex_Female ┆ sex_Male │
    │ ---        ┆ ---      │
    │ u8         ┆ u8       │
    ╞════════════╪══════════╡
    │ 0          ┆ 1        │
    │ 1          ┆ 0        │
    │ null       ┆ null     │
    │ 0          ┆ 1        │
    └────────────┴──────────┘
    """
    indicator_dtype = _dtype_name(dtype, _INDICATOR_DTYPES)
    if indicator_dtype is None:
        raise TypeError(
            f"dtype must be pl.UInt8, pl.Boolean, pl.Float32 or pl.Float64, got {dtype!r}"
        )
    if prefix is not None:
        _validate.name_part("prefix", prefix)
    kwargs = {
        "categories": _categories_kwarg(categories),
        "layout": _validate.choice("layout", layout, ("struct", "array")),
        "dtype": indicator_dtype,
        "prefix": prefix,
        "separator": _validate.name_part("separator", separator),
        "drop_first": _validate.flag("drop_first", drop_first),
        "unknown": _validate.choice("unknown", unknown, ("error", "zeros", "null", "other")),
        "nulls": _validate.choice("nulls", nulls, ("null", "zeros", "category")),
        "other_label": _validate.name_part("other_label", other_label),
    }
    return _plugin("one_hot", [_expr(expr)], kwargs)


def _tau(tau: Any) -> float:
    value = _validate.real("tau", tau)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"tau must be finite and > 0, got {tau}")
    return value


def _seed(seed: Any) -> int | None:
    """The seed checked, as the plugin reads it: its two's-complement Int64 value."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    value = int(seed)
    if not 0 <= value < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {value}")
    return value - 2**64 if value >= 2**63 else value


def _random_args(expr: IntoExpr, key: IntoExpr | None) -> list[pl.Expr]:
    return [_expr(expr)] if key is None else [_expr(expr), _expr(key, "key")]


def softmax(scores: IntoExpr, *, tau: float = 1.0) -> pl.Expr:
    """Softmax of each row's block: ``exp(x / tau) / sum(exp(x / tau))``.

    Accepts a Struct of numeric fields, an Array or a List and returns the same layout;
    Float32 stays Float32, other numbers become Float64. A row with NaN or ``+inf``, or
    with every score ``-inf``, or with no score, is null; ``-inf`` scores get probability
    0. Scores of dtype Null (``[[]]`` is a ``List(Null)``) give null rows. An
    ``Array(_, 0)`` column is an error: its rows would all be null, and Polars cannot take
    null rows of that dtype back from a plugin (``argmax`` and ``decode`` give them).

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import softmax
    >>> df = pl.DataFrame({"x": [[0.0, 0.0], [0.0, float("-inf")]]})
    >>> df.select(softmax("x"))["x"].to_list()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    return _plugin("softmax", [_expr(scores)], {"tau": _tau(tau)})


def log_softmax(scores: IntoExpr, *, tau: float = 1.0) -> pl.Expr:
    """Log-softmax of each row's block, computed stably (``x / tau - logsumexp``).

    Layouts, dtypes and null rows as :func:`softmax`.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import log_softmax
    >>> df = pl.DataFrame({"x": [[0.0, 0.0]]}, schema={"x": pl.Array(pl.Float64, 2)})
    >>> [round(v, 6) for v in df.select(log_softmax("x"))["x"][0]]
    [-0.693147, -0.693147]
    """
    return _plugin("log_softmax", [_expr(scores)], {"tau": _tau(tau)})


def gumbel_softmax(
    logits: IntoExpr,
    *,
    tau: float = 1.0,
    hard: bool = False,
    seed: int | None = None,
    key: IntoExpr | None = None,
) -> pl.Expr:
    """Gumbel-Softmax of each row's block: ``softmax((logits + g) / tau)``.

    ``g`` is standard Gumbel noise, the forward values of PyTorch's
    ``F.gumbel_softmax``. With ``hard=True`` each row is the one-hot of its argmax (0.0 /
    1.0, in the input's float dtype): an exact sample of ``Categorical(softmax(logits))``.

    Parameters
    ----------
    logits
        A Struct of numeric fields, an Array or a List; the output has the same layout.
    tau
        Temperature, finite and > 0.
    hard
        Return one-hot samples instead of the relaxed probabilities.
    seed
        ``None``: fresh entropy at every evaluation. An int in ``[0, 2**64)``: the noise
        of (row, category) is a fixed function of the seed, the row and the category, so
        the result does not depend on chunks, threads or engine. Use a different seed per
        block: two blocks under one seed get the same noise.
    key
        An integer or String column naming each row for the noise, instead of its
        position: results then do not depend on how rows are partitioned or ordered.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import gumbel_softmax
    >>> df = pl.DataFrame({"x": [[1.0, 2.0, 3.0]] * 3})
    >>> out = df.select(gumbel_softmax("x", hard=True, seed=7))
    >>> [sum(row) for row in out["x"].to_list()]
    [1.0, 1.0, 1.0]
    """
    kwargs = {"tau": _tau(tau), "hard": _validate.flag("hard", hard), "seed": _seed(seed)}
    return _plugin(
        "gumbel_softmax",
        _random_args(logits, key),
        kwargs,
        elementwise=seed is None or key is not None,
        deterministic=seed is not None,
    )


def argmax(scores: IntoExpr) -> pl.Expr:
    """The index of each row's largest score, lowest on ties, as UInt32.

    The horizontal arg-max over a Struct of numeric fields, an Array or a List. A row
    with NaN or ``+inf``, with every score ``-inf``, or of length 0 is null.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import argmax
    >>> df = pl.DataFrame({"a": [1, 5, 2], "b": [3, 5, 1]})
    >>> df.select(argmax(pl.struct("a", "b")))["a"].to_list()
    [1, 0, 0]
    """
    return _plugin("argmax", [_expr(scores)], {})


def decode(
    scores: IntoExpr,
    labels: Sequence[str] | None = None,
    *,
    method: DecodeMethod = "argmax",
    tau: float = 1.0,
    seed: int | None = None,
    key: IntoExpr | None = None,
    prefix: str | None = None,
    separator: str = "_",
    dtype: Any = pl.String,
    null_label: str | None = None,
) -> pl.Expr:
    """Each row's label: the largest score's, or one sampled from the scores.

    Parameters
    ----------
    scores
        A Struct of numeric fields, an Array or a List of scores (logits, probabilities
        or one-hot indicators).
    labels
        One label per score. By default the Struct's field names without their common
        ``{prefix}{separator}`` (as :func:`one_hot` names them); List and Array scores
        need them.
    method
        ``"argmax"``: the largest score, lowest index on ties; an all-zero row (what
        :func:`one_hot` emits for unknown values) decodes to null.
        ``"sample"``: a draw from ``softmax(scores / tau)`` by the Gumbel-max trick,
        with the noise :func:`gumbel_softmax` uses for the same ``seed`` and ``key``: at
        ``tau=1`` it picks the label of ``gumbel_softmax(scores, hard=True)``.
    tau, seed, key
        As in :func:`gumbel_softmax`; used by ``method="sample"``.
    prefix, separator
        The field-name prefix to remove; by default the column's name when every field
        starts with it, else the fields' longest common start ending in ``separator``.
    dtype
        ``pl.String``, ``pl.Categorical``, ``pl.Enum`` (its categories are the labels),
        ``pl.Enum(categories)`` holding every label, ``pl.Boolean`` (labels ``false`` /
        ``true``) or an integer dtype (decimal labels).
    null_label
        A label that decodes to null: the inverse of ``one_hot(nulls="category")``,
        whose null field is labelled ``null``.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import decode, one_hot
    >>> df = pl.DataFrame({"sex": ["Male", None, "Female"]})
    >>> encoded = df.select(one_hot("sex", ["Female", "Male"], dtype=pl.Float32))
    >>> encoded.select(decode("sex"))["sex"].to_list()
    ['Male', None, 'Female']
    """
    if labels is not None:
        if (
            isinstance(labels, str)
            or not isinstance(labels, Iterable)
            or not all(isinstance(v, str) for v in labels)
        ):
            raise TypeError("labels must be a sequence of str")
        labels = [_validate.no_nul("labels", v) for v in labels]
        if len(set(labels)) != len(labels):
            dup = next(v for v in labels if labels.count(v) > 1)
            raise ValueError(f"duplicate label {dup!r} in labels")
    categorical = False
    categories: list[str] | None = None
    if dtype == pl.Categorical:
        label_dtype, categorical = "string", True
    elif dtype == pl.Enum:
        label_dtype = "enum"
        if isinstance(dtype, pl.Enum):
            categories = dtype.categories.to_list()
    elif (name := _dtype_name(dtype, _LABEL_DTYPES)) is not None:
        label_dtype = name
    else:
        raise TypeError(
            "dtype must be pl.String, pl.Categorical, pl.Enum, pl.Boolean or an integer "
            f"dtype, got {dtype!r}"
        )
    if null_label is not None:
        _validate.name_part("null_label", null_label)
    if prefix is not None:
        _validate.name_part("prefix", prefix)
    sampled = _validate.choice("method", method, ("argmax", "sample")) == "sample"
    kwargs = {
        "labels": labels,
        "method": method,
        "tau": _tau(tau),
        "seed": _seed(seed),
        "prefix": prefix,
        "separator": _validate.name_part("separator", separator),
        "dtype": label_dtype,
        "categories": categories,
        "null_labels": [] if null_label is None else [null_label],
    }
    out = _plugin(
        "decode",
        _random_args(scores, key),
        kwargs,
        elementwise=not sampled or seed is None or key is not None,
        deterministic=not sampled or seed is not None,
    )
    return out.cast(pl.Categorical) if categorical else out
