"""`Codec`: every column of a table, categorical and numeric, encoded and decoded as one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar, cast, overload

import numpy as np
import polars as pl

from polars_gumbel import _internal, _validate
from polars_gumbel._plugin import _plugin
from polars_gumbel._typing import DecodeMethod
from polars_gumbel.expressions import _INDICATOR_DTYPES, _LABEL_DTYPES, _dtype_name, _seed, _tau

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
EncodeLayout = Literal["flat", "struct", "array", "matrix"]
Order = Literal["sorted", "frequency"]
Transform = Literal["mode", "standard", "minmax"]
Activation = Literal["softmax", "tanh", "linear", "sigmoid"]
Block = tuple[str, int, int, list[str]]
_TRANSFORMS = ("mode", "standard", "minmax")


class Span(NamedTuple):
    """A span of ``feature_names`` and what a generator's output goes through there."""

    column: str
    start: int
    stop: int
    activation: Activation


_ROW = "__polars_gumbel_row__"
#: The matrix column's name unless another is given.
MATRIX = "features"


def _one_chunk(lf: pl.LazyFrame, matrix: str) -> pl.DataFrame:
    """`lf` collected with its `matrix` column in one chunk, as the plugin writes it, so
    that ``.to_numpy()`` of it is a view: the streaming engine would hand it back in
    pieces."""
    out = lf.collect(engine="in-memory")
    if out[matrix].n_chunks() > 1:
        out = out.with_columns(out[matrix].rechunk())
    return out


def _array_width(dtype: pl.DataType) -> int | None:
    """The width of an Array dtype's rows (``None`` for any other dtype)."""
    if not isinstance(dtype, pl.Array):
        return None
    return int(dtype.size)


def _source_dtype(name: str, dtype: pl.DataType) -> Any:
    """The codec's record of a column dtype, restored by `decode`."""
    if dtype == pl.String:
        return "string"
    if isinstance(dtype, pl.Enum):
        return {"enum": dtype.categories.to_list()}
    if dtype == pl.Categorical:
        return "categorical"
    label = _dtype_name(dtype, _LABEL_DTYPES)
    if label is not None:
        return label
    raise TypeError(
        f"Codec: column {name!r} has dtype {dtype}; expected String, Categorical, Enum, "
        "Boolean or an integer dtype"
    )


def _infrequent(
    counts: np.ndarray[Any, Any],
    min_frequency: float | None,
    max_categories: int | None,
    n_rows: int,
) -> np.ndarray[Any, Any]:
    """Which categories (given in sorted order) are grouped, as scikit-learn decides.

    A category is infrequent when its count is below `min_frequency` (a count, or a
    fraction of the rows when a float); then, if more than `max_categories` outputs would
    remain (the `other` field counted), the least frequent categories join them, ties
    going to the earlier category in sorted order.
    """
    mask = np.zeros(counts.size, dtype=bool)
    if isinstance(min_frequency, int):
        mask = counts < min_frequency
    elif isinstance(min_frequency, float):
        mask = counts < min_frequency * n_rows
    n_outputs = counts.size - int(mask.sum()) + 1
    if max_categories is not None and max_categories < n_outputs:
        keep = max_categories - 1
        order = np.argsort(counts, kind="mergesort")
        mask[order if keep == 0 else order[:-keep]] = True
    return mask


def _numeric_dtype(name: str, dtype: pl.DataType) -> Any:
    """The codec's record of a numeric column's dtype, restored by `decode`; ``None``
    for a dtype that is not a number."""
    if isinstance(dtype, pl.Datetime):
        return {"datetime": {"unit": dtype.time_unit, "zone": dtype.time_zone}}
    if isinstance(dtype, pl.Duration):
        return {"duration": {"unit": dtype.time_unit}}
    if dtype == pl.Date:
        return "date"
    if dtype in (pl.Float32, pl.Float64):
        return "float32" if dtype == pl.Float32 else "float64"
    if dtype.is_integer() and dtype not in (pl.Int128, pl.UInt128):
        return _dtype_name(dtype, _LABEL_DTYPES)
    return None


def _numeric_transforms(
    numeric: Transform | Mapping[str, Transform] | None,
    schema: pl.Schema,
    categorical: list[str],
) -> dict[str, Transform]:
    """Each numeric column's transform: every number, Date, Datetime and Duration
    column not named as categorical under one transform, or the columns a mapping
    names."""
    if numeric is None:
        return {}
    if isinstance(numeric, Mapping):
        chosen: dict[str, Transform] = {}
        for name, transform in numeric.items():
            if name not in schema:
                raise ValueError(f"Codec.fit: no column {name!r} in the data")
            if name in categorical:
                raise ValueError(
                    f"Codec.fit: column {name!r} is named both as categorical and as numeric"
                )
            _validate.choice("numeric transform", transform, _TRANSFORMS)
            if _numeric_dtype(name, schema[name]) is None:
                raise TypeError(
                    f"Codec.fit: column {name!r} has dtype {schema[name]}; a numeric column "
                    "is an integer, float, Date, Datetime or Duration column"
                )
            chosen[name] = transform
        return chosen
    _validate.choice("numeric", numeric, _TRANSFORMS)
    return {
        n: numeric
        for n, d in schema.items()
        if n not in categorical and _numeric_dtype(n, d) is not None
    }


def _unsigned(seed: int | None) -> int | None:
    """A checked seed as the unsigned 64-bit value the plugin keys its noise by."""
    checked = _seed(seed)
    return None if checked is None else checked % 2**64


def _categories_entry(values: list[Any]) -> dict[str, list[Any]]:
    if values and isinstance(values[0], bool):
        return {"boolean": values}
    if values and isinstance(values[0], int):
        return {"int": values}
    return {"string": [str(v) for v in values]}


class Codec:
    """The columns of a table, categorical and numeric, as one numeric matrix and back.

    ``encode`` one-hot encodes every categorical column and normalises every numeric
    one in place (lazy in, lazy out); ``decode`` turns a generator's scores back into
    the original columns, dtypes and order, by argmax or by sampling.
    ``feature_names``, ``blocks`` and ``spans`` describe the matrix a model consumes.
    The codec is a versioned JSON document (``to_json``, ``save``), readable by the
    Rust API too.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import Codec
    >>> df = pl.DataFrame({"sex": ["F", "M", "M"], "age": [31, 45, 27]})
    >>> codec = Codec.fit(df, numeric="minmax")
    >>> codec.feature_names
    ['sex_F', 'sex_M', 'age_normalized']
    >>> encoded = codec.encode(df)
    >>> encoded.columns
    ['sex_F', 'sex_M', 'age_normalized']
    >>> codec.decode(encoded).equals(df)
    True
    >>> Codec.fit(df, numeric=None).feature_names  # numbers passed through
    ['sex_F', 'sex_M']
    """

    def __init__(self, document: str) -> None:
        if not isinstance(document, str):
            raise TypeError(f"a codec document is a JSON str, got {type(document).__name__}")
        # Checked once here; names, spans and plans then come from the parsed document.
        self._core = _internal.CodecDocument(document)
        self._json = self._core.to_json()
        self._doc: dict[str, Any] = json.loads(self._json)

    def __repr__(self) -> str:
        return f"Codec(columns={self.columns!r}, features={len(self.feature_names)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codec) and self._doc == other._doc

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """A codec pickles as its document (Ray ships batch functions by pickle)."""
        return (Codec, (self._json,))

    @classmethod
    def fit(
        cls,
        data: pl.DataFrame | pl.LazyFrame,
        columns: Sequence[str] | None = None,
        *,
        max_categories: int | None = None,
        min_frequency: int | float | None = None,
        order: Order = "sorted",
        separator: str = "_",
        numeric: Transform | Mapping[str, Transform] | None = "mode",
        max_modes: int = 10,
        seed: int = 0,
    ) -> Codec:
        """Learn each categorical column's categories and each numeric column's transform.

        Parameters
        ----------
        data
            A DataFrame or a LazyFrame (scanned once).
        columns
            The columns to encode; by default every String, Categorical, Enum and
            Boolean column. Integer columns may be named explicitly.
        max_categories, min_frequency
            Group infrequent categories into a last ``{column}_other`` field, as
            scikit-learn's ``OneHotEncoder`` does; values unseen at fit time then join
            them instead of being an error.
        order
            ``"sorted"`` (Enum columns keep their own order) or ``"frequency"``.
        separator
            Joins a column's name and a label into a feature name (``sex_F``); kept in
            the document.
        numeric
            How the integer, float, Date, Datetime and Duration columns not named in
            ``columns`` are encoded: ``"mode"`` (mode-specific normalisation, CTGAN's:
            a variational Gaussian mixture of at most ``max_modes`` modes, each value a
            scalar ``{col}_normalized`` in [-0.99, 0.99] and a one-hot mode block
            ``{col}_mode_{i}``), ``"standard"`` (the z-score) or ``"minmax"`` (the
            fitted range to [-1, 1]); a mapping of column names to transforms for
            those columns only; ``None`` passes them through. A column with nulls
            gets a ``{col}_null`` indicator. NaN and infinite values are an error.
        max_modes
            At most this many modes of a ``"mode"`` column.
        seed
            Seeds the mixture fit's initialisation: a fit is a pure function of the
            data, the options and ``seed``.
        """
        lf = data.lazy()
        schema = lf.collect_schema()
        columns_given = columns
        if columns is None:
            columns = [
                n
                for n, d in schema.items()
                if d in (pl.String, pl.Categorical, pl.Boolean) or isinstance(d, pl.Enum)
            ]
        else:
            if isinstance(columns, str):
                raise TypeError("columns must be a sequence of column names, not a str")
            columns = list(columns)
            missing = [c for c in columns if c not in schema]
            if missing:
                raise ValueError(f"Codec.fit: no column {missing[0]!r} in the data")
        _validate.choice("order", order, ("sorted", "frequency"))
        if not isinstance(separator, str):
            raise TypeError(f"separator must be a str, got {type(separator).__name__}")
        if min_frequency is not None and (
            isinstance(min_frequency, bool)
            or not isinstance(min_frequency, (int, float))
            or (isinstance(min_frequency, int) and min_frequency < 1)
            or (isinstance(min_frequency, float) and not 0.0 < min_frequency < 1.0)
        ):
            raise ValueError(
                f"min_frequency must be an int >= 1 or a float in (0, 1), got {min_frequency!r}"
            )
        if max_categories is not None and (
            isinstance(max_categories, bool)
            or not isinstance(max_categories, int)
            or max_categories < 1
        ):
            raise ValueError(f"max_categories must be an int >= 1, got {max_categories!r}")
        for c in columns:
            if not _validate.column_name("Codec.fit: column", c):
                raise ValueError(
                    "Codec.fit: column name '' cannot be encoded: expected a non-empty str"
                )
        if isinstance(max_modes, bool) or not isinstance(max_modes, int) or max_modes < 1:
            raise ValueError(f"max_modes must be an int >= 1, got {max_modes!r}")
        fit_seed = _unsigned(seed)
        numbers = _numeric_transforms(numeric, schema, list(columns))
        for c in numbers:
            _validate.column_name("Codec.fit: column", c)
        if not columns and not numbers:
            raise ValueError("Codec.fit: no columns to encode")
        dtypes = {c: _source_dtype(c, schema[c]) for c in columns}
        queries = [
            lf.group_by(pl.col(c).cast(pl.String) if schema[c] == pl.Categorical else c).agg(
                pl.len().alias("count")
            )
            for c in columns
        ]
        # A number's distinct values and their counts: the mixture's likelihood.
        number_queries = [
            lf.group_by(pl.col(c).to_physical().cast(pl.Float64).alias("value")).agg(
                pl.len().alias("count")
            )
            for c in numbers
        ]
        n_rows_query = lf.select(pl.len())
        *counts, n_rows_frame = pl.collect_all([*queries, *number_queries, n_rows_query])
        number_counts = counts[len(queries) :]
        counts = counts[: len(queries)]
        n_rows = int(n_rows_frame.item())
        entries: list[Any] = []
        for c, frame in zip(columns, counts):
            null_count = int(frame.filter(pl.col(c).is_null())["count"].sum())
            seen = frame.filter(pl.col(c).is_not_null())
            dtype = dtypes[c]
            if isinstance(dtype, dict):
                enum_cats: list[str] = dtype["enum"]
                found = dict(zip(seen[c].cast(pl.String).to_list(), seen["count"].to_list()))
                values: list[Any] = list(enum_cats)
                value_counts = [found.get(v, 0) for v in values]
            else:
                seen = seen.sort(c)
                values = seen[c].to_list()
                value_counts = seen["count"].to_list()
            if not values and not null_count:
                raise ValueError(f"Codec.fit: column {c!r} has no values to learn from")
            if values and isinstance(values[0], int) and not isinstance(values[0], bool):
                beyond = [v for v in values if not -(2**63) <= v < 2**63]
                if beyond:
                    raise ValueError(
                        f"Codec.fit: column {c!r} holds {beyond[0]}, beyond the Int64 range "
                        "that integer categories are kept in"
                    )
            mask = _infrequent(
                np.asarray(value_counts, dtype=np.int64), min_frequency, max_categories, n_rows
            )
            kept = [(v, n) for v, n, m in zip(values, value_counts, mask) if not m]
            if order == "frequency":
                kept.sort(key=lambda vn: -vn[1])
            infrequent = [v for v, m in zip(values, mask) if m]
            entries.append(
                {
                    "name": c,
                    "dtype": dtype,
                    "categories": _categories_entry([v for v, _ in kept]),
                    "null_category": null_count > 0,
                    "infrequent": _categories_entry(infrequent) if infrequent else None,
                }
            )
        for (c, transform), frame in zip(numbers.items(), number_counts):
            seen = frame.filter(pl.col("value").is_not_null())
            nulls = int(frame.filter(pl.col("value").is_null())["count"].sum())
            try:
                entry, _ = _internal.fit_numeric(
                    c,
                    json.dumps(_numeric_dtype(c, schema[c])),
                    seen["value"].to_list(),
                    seen["count"].cast(pl.Float64).to_list(),
                    nulls,
                    transform,
                    max_modes,
                    fit_seed or 0,
                )
            except ValueError as exc:
                raise ValueError(f"Codec.fit: {exc}") from None
            entries.append(json.loads(entry))
        if columns_given is None:
            # Every codec column in the table's order.
            place = {n: i for i, n in enumerate(schema.names())}
            entries.sort(key=lambda e: place[e["name"]])
        try:
            document = _internal.codec_from_columns(json.dumps(entries), separator, schema.names())
        except ValueError as exc:
            raise ValueError(f"Codec.fit: {exc}") from None
        return cls(document)

    @property
    def columns(self) -> list[str]:
        """The encoded columns, in order."""
        return [c["name"] for c in self._doc["columns"]]

    @property
    def blocks(self) -> list[Block]:
        """``(column, start, stop, labels)``: each column's span of ``feature_names``,
        with its features' labels (a numeric column's: ``normalized``, ``mode_0``, ...,
        ``null``)."""
        return [(c, a, b, list(labels)) for c, a, b, labels in self._blocks]

    @property
    def spans(self) -> list[Span]:
        """Every span of ``feature_names`` with its activation, CTGAN's ``output_info``:
        ``softmax`` for a categorical block and a mode block, ``tanh`` for a scalar in
        [-1, 1] (``"mode"`` and ``"minmax"``), ``linear`` for a z-score
        (``"standard"``), ``sigmoid`` for a null indicator. :meth:`gumbel_softmax`
        applies them all to a generator's raw output.

        Examples
        --------
        >>> import polars as pl
        >>> from polars_gumbel import Codec
        >>> df = pl.DataFrame({"sex": ["F", "M", "M"], "age": [31, None, 27]})
        >>> spans = Codec.fit(df, numeric="minmax").spans
        >>> [(s.column, s.start, s.stop, s.activation) for s in spans]
        [('sex', 0, 2, 'softmax'), ('age', 2, 3, 'tanh'), ('age', 3, 4, 'sigmoid')]
        """
        return [Span(c, a, b, cast(Activation, act)) for c, a, b, act in self._spans]

    @property
    def feature_names(self) -> list[str]:
        """The flat columns ``encode`` produces, in order."""
        return list(self._feature_names)

    @cached_property
    def _blocks(self) -> list[Block]:
        return self._core.blocks()

    @cached_property
    def _spans(self) -> list[tuple[str, int, int, str]]:
        return self._core.spans()

    @cached_property
    def _feature_names(self) -> list[str]:
        return self._core.feature_names()

    @property
    def width(self) -> int:
        """The number of feature columns: the width ``D`` of a matrix row."""
        return len(self._feature_names)

    def encode(
        self,
        data: Frame,
        layout: EncodeLayout = "flat",
        dtype: Any = pl.Float32,
        *,
        matrix: str = MATRIX,
        method: DecodeMethod = "sample",
        seed: int | None = None,
        key: str | None = None,
    ) -> Frame:
        """Encode the codec's columns in place; other columns pass through.

        ``layout="flat"``: one column per category (``feature_names``);
        ``"struct"`` / ``"array"``: one block column per variable; ``"matrix"``: one
        ``Array(dtype, D)`` column named ``matrix`` holding every feature of the row in
        ``feature_names`` order, in the place of the first codec column. The matrix is
        written row-major into one buffer, so ``.to_numpy()`` of the column is the
        C-contiguous N x D array a generator consumes, without a copy (and
        ``torch.from_numpy`` of that shares it too). A value seen null at fit time has
        a ``null`` field; a null the codec has no field for is null in its block's span.

        A numeric column becomes its scalar ``{col}_normalized``, then (``"mode"``) its
        mode indicators ``{col}_mode_{i}``, then its ``{col}_null`` indicator; its
        features are Float32 or Float64, so a codec with numeric columns encodes to
        those dtypes only. A ``"mode"`` column's mode is drawn from each value's
        posterior over the modes (``method="sample"``, CTGAN's choice) or taken as the
        most probable one (``"argmax"``). The draw is the project's Gumbel-max: with
        ``seed`` a pure function of the seed, the column and the row's ``key`` value (or
        its position), on a stream of its own apart from :meth:`decode`'s.

        Examples
        --------
        >>> import polars as pl
        >>> from polars_gumbel import Codec
        >>> df = pl.DataFrame({"sex": ["F", "M", "M"], "race": ["a", "b", "a"], "id": [1, 2, 3]})
        >>> codec = Codec.fit(df, numeric=None)
        >>> m = codec.encode(df, layout="matrix")
        >>> m.columns, m["features"].dtype
        (['features', 'id'], Array(Float32, shape=(4,)))
        >>> m["features"].to_numpy()[1].tolist()
        [0.0, 1.0, 0.0, 1.0]
        """
        _validate.choice("layout", layout, ("flat", "struct", "array", "matrix"))
        _validate.column_name("matrix", matrix)
        _validate.choice("method", method, ("argmax", "sample"))
        name = _dtype_name(dtype, _INDICATOR_DTYPES)
        if name is None:
            raise TypeError(
                f"dtype must be pl.UInt8, pl.Boolean, pl.Float32 or pl.Float64, got {dtype!r}"
            )
        if key is not None:
            _validate.column_name("key", key)
        lf = data.lazy()
        schema = lf.collect_schema()
        plan = self._plan(
            self._core.encode_plan, schema, layout, name, matrix, method, _unsigned(seed), key
        )
        self._check_key("encode", key, schema)
        # A seeded draw is keyed (by a column or by the row index): elementwise.
        seeded = method == "sample" and seed is not None
        keyed: list[pl.Expr] = [pl.col(_ROW if key is None else key)] if seeded else []
        deterministic = method == "argmax" or seed is not None
        exprs: list[pl.Expr] = []
        nested: list[str] = []
        for kind, step in plan:
            if kind == "pass":
                exprs.append(pl.col(step))
            elif kind == "encode_matrix":
                block_inputs: list[pl.Expr] = [pl.col(c) for c in step["inputs"]]
                exprs.append(
                    _plugin(
                        "one_hot_matrix",
                        [*block_inputs, *keyed],
                        step["options"],
                        deterministic=deterministic,
                    ).alias(step["column"])
                )
            else:
                function = "one_hot" if kind == "encode" else "normalize"
                args = [pl.col(step["column"])] + (keyed if kind == "normalize" else [])
                exprs.append(
                    _plugin(
                        function,
                        args,
                        step["options"],
                        elementwise=True,
                        deterministic=deterministic,
                    )
                )
                if step["unnest"]:
                    nested.append(step["column"])
        if seeded and key is None:
            lf = lf.with_row_index(_ROW)
        # Frame-level unnest puts each block's fields in its place, in one step; the
        # `struct.unnest()` expression would expand field by field, in quadratic time.
        out = lf.select(exprs).unnest(nested) if nested else lf.select(exprs)
        if isinstance(data, pl.LazyFrame):
            return out
        return _one_chunk(out, matrix) if layout == "matrix" else out.collect()

    @overload
    def decode(
        self,
        data: Frame,
        method: DecodeMethod = ...,
        tau: float = ...,
        seed: int | None = ...,
        key: str | None = ...,
        *,
        matrix: str | None = ...,
    ) -> Frame: ...

    @overload
    def decode(
        self,
        data: Any,
        method: DecodeMethod = ...,
        tau: float = ...,
        seed: int | None = ...,
        key: str | None = ...,
        *,
        matrix: str | None = ...,
    ) -> pl.DataFrame: ...

    def decode(
        self,
        data: Any,
        method: DecodeMethod = "argmax",
        tau: float = 1.0,
        seed: int | None = None,
        key: str | None = None,
        *,
        matrix: str | None = None,
    ) -> Any:
        """The original columns, dtypes and order from their blocks.

        Parameters
        ----------
        data
            Each column's block as flat feature columns (any scores: one-hot,
            probabilities or logits), or as one Struct / Array column named after the
            variable, or every block in one matrix column (see ``matrix``). Other
            columns pass through in place. Also a generator's N x D matrix itself: a
            2-D numpy array (or anything with ``__array__``), wrapped without a copy
            when it is C-contiguous (a Fortran-ordered one is copied once), or an Arrow
            ``FixedSizeList`` array or a table holding one; the result is then a
            DataFrame of the codec's columns.
        method
            ``"argmax"``, or ``"sample"``: a draw from ``softmax(scores / tau)`` per row,
            each column from its own noise stream derived from ``seed``.
        tau, seed
            As in :func:`~polars_gumbel.decode`; used by ``method="sample"``.
        key
            The name of an integer or String column whose values key the seeded noise
            (it passes through unchanged). Each row's draw is then a pure function of
            ``seed``, its key and its scores: batches, files and workers decoded apart
            agree with one whole-table decode. Without it the row's position is the key
            (the decode still streams).
        matrix
            The name of an ``Array(_, D)`` column holding every block of the row side by
            side, as ``encode(layout="matrix")`` writes it: each block is read in place
            from its span of the row. By default a column named ``"features"`` is taken
            for it when the data holds none of the codec's columns and feature columns.
            The matrix, the variables' own columns and their feature columns are
            alternatives: a frame holding two of them is an error.

        Examples
        --------
        >>> import polars as pl
        >>> from polars_gumbel import Codec
        >>> codec = Codec.fit(pl.DataFrame({"sex": ["F", "M"]}))
        >>> logits = pl.DataFrame({"id": [10, 11, 12], "sex_F": [0.3] * 3, "sex_M": [0.0] * 3})
        >>> whole = codec.decode(logits, method="sample", seed=7, key="id")
        >>> parts = pl.concat(
        ...     codec.decode(logits[a:b], method="sample", seed=7, key="id")
        ...     for a, b in [(0, 1), (1, 3)]
        ... )
        >>> whole.columns, parts.equals(whole)
        (['id', 'sex'], True)
        >>> import numpy as np
        >>> codec.decode(np.array([[0.1, 0.9], [0.8, 0.2]], dtype=np.float32))["sex"].to_list()
        ['M', 'F']
        """

        _validate.choice("method", method, ("argmax", "sample"))
        data, matrix = self._matrix_input(data, matrix)
        lf = data.lazy()
        schema = lf.collect_schema()
        if key is not None:
            _validate.column_name("key", key)
        plan = self._plan(
            self._core.decode_plan, schema, method, _tau(tau), _unsigned(seed), key, matrix
        )
        self._check_key("decode", key, schema)
        seeded = method == "sample" and seed is not None
        noise_key = None if not seeded else pl.col(_ROW if key is None else key)
        exprs: list[pl.Expr] = []
        nested: list[str] = []
        categorical: list[str] = []
        args = [] if noise_key is None else [noise_key]
        for kind, step in plan:
            if kind == "pass":
                exprs.append(pl.col(step))
                continue
            if kind == "order":
                continue  # applied last, below
            if kind == "decode_matrix":
                # Every block read in place from its span of the matrix, in one pass: a
                # Struct of the decoded columns, unnested in the matrix's place.
                name = f"__polars_gumbel_block_{len(nested)}__"
                nested.append(name)
                categorical.extend(step["categorical"])
                matrix_expr = _plugin(
                    "decode_matrix",
                    [pl.col(step["column"]), *args],
                    step["options"],
                    elementwise=True,
                    deterministic=method == "argmax" or seed is not None,
                )
                exprs.append(matrix_expr.alias(name))
                continue
            var = step["column"]
            function = "decode" if kind == "decode" else "denormalize"
            (source, where), *_ = step["scores"].items()
            if source == "column":
                scores = pl.col(where)
            elif source == "fields":
                # Fields by name, in the codec's order, whatever order the data has.
                block, fields = where
                scores = pl.struct(pl.col(block).struct.field(f) for f in fields).alias(var)
            else:
                scores = pl.struct(where).alias(var)
            # Seeded noise is keyed (by a column or by the row index): elementwise.
            expr = _plugin(
                function,
                [scores, *args],
                step["options"],
                elementwise=True,
                deterministic=method == "argmax" or seed is not None,
            )
            if step.get("categorical"):
                expr = expr.cast(pl.Categorical)
            exprs.append(expr.alias(var))
        if seeded and key is None:
            lf = lf.with_row_index(_ROW)
        out = lf.select(exprs)
        if nested:
            out = out.unnest(nested)
        if categorical:
            out = out.with_columns(pl.col(categorical).cast(pl.Categorical))
        for kind, step in plan:
            if kind == "order":  # the fitted table's order, which a matrix does not keep
                out = out.select(step)
        return out if isinstance(data, pl.LazyFrame) else out.collect()

    def _matrix_input(self, data: Any, matrix: str | None) -> tuple[Any, str | None]:
        """A frame as it is; a 2-D array or an Arrow matrix as a one-column DataFrame
        named `matrix` (or ``"features"``), sharing its memory. A DataFrame's matrix
        column in several chunks is made one once, not once per block."""
        if matrix is not None:
            _validate.column_name("matrix", matrix)
        if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
            if isinstance(data, pl.DataFrame):
                name = matrix if matrix is not None else MATRIX
                if name in data.columns and data[name].n_chunks() > 1:
                    data = data.with_columns(data[name].rechunk())
            return data, matrix
        name = matrix if matrix is not None else MATRIX
        if type(data).__module__.split(".")[0] == "pyarrow":
            converted = pl.from_arrow(data, rechunk=False)
            if isinstance(converted, pl.Series):
                return converted.alias(name).to_frame(), name
            return self._matrix_input(converted, matrix)
        if not hasattr(data, "__array__"):
            raise TypeError(
                "expected a DataFrame, a LazyFrame, a 2-D array or an Arrow FixedSizeList "
                f"matrix, got {type(data).__name__}"
            )
        array = np.asarray(data)
        if array.ndim != 2:
            raise ValueError(
                f"expected a matrix of N rows by {self.width} features (a 2-D array), got an "
                f"array of shape {array.shape}"
            )
        if array.shape[1] != self.width:
            raise ValueError(
                f"the matrix has {array.shape[1]} scores per row, but the codec has "
                f"{self.width} features"
            )
        if array.dtype.kind not in "biuf":
            raise TypeError(f"expected a matrix of numbers, got dtype {array.dtype}")
        if array.dtype == np.float16:
            # Scores are computed in Float32 or Float64; Polars cannot hand Float16 over.
            array = array.astype(np.float32)
        # Polars wraps a C-contiguous array without a copy; other orders are copied once.
        return pl.Series(name, np.ascontiguousarray(array)).to_frame(), name

    def _plan(self, planner: Any, schema: pl.Schema, *args: Any) -> list[tuple[str, Any]]:
        """A plan of the Rust codec over the frame's columns: ``(kind, step)`` pairs."""
        columns = [
            {
                "name": name,
                "fields": [f.name for f in dtype.fields] if isinstance(dtype, pl.Struct) else None,
                "width": _array_width(dtype),
                "dtype": str(dtype),
            }
            for name, dtype in schema.items()
        ]
        steps = json.loads(planner(json.dumps(columns), *args))
        return [next(iter(step.items())) for step in steps]

    def _check_key(self, operation: str, key: str | None, schema: pl.Schema) -> None:
        """A noise key is an integer or String column (the plan checked that it is a
        column of the data outside the blocks)."""
        if key is None or key not in schema:
            return
        dtype = schema[key]
        if not (dtype.is_integer() or dtype == pl.String):
            raise TypeError(
                f"Codec.{operation}: the key column {key!r} must be an integer or String "
                f"column, got {dtype}"
            )

    @overload
    def gumbel_softmax(
        self,
        data: Frame,
        *,
        tau: float = ...,
        hard: bool = ...,
        seed: int | None = ...,
        key: str | None = ...,
        matrix: str | None = ...,
    ) -> Frame: ...

    @overload
    def gumbel_softmax(
        self,
        data: Any,
        *,
        tau: float = ...,
        hard: bool = ...,
        seed: int | None = ...,
        key: str | None = ...,
        matrix: str | None = ...,
    ) -> np.ndarray[Any, Any]: ...

    def gumbel_softmax(
        self,
        data: Any,
        *,
        tau: float = 1.0,
        hard: bool = False,
        seed: int | None = None,
        key: str | None = None,
        matrix: str | None = None,
    ) -> Any:
        """The per-block Gumbel-Softmax of a generator's whole output, in one plan.

        Each codec column's feature columns form one block; the block's
        :func:`~polars_gumbel.gumbel_softmax` is written back into the same columns, in
        place, and every other column passes through in order: the dataframe form of a
        per-block Gumbel-Softmax activation over a generator's output. Float32 blocks
        stay Float32; other numbers become Float64. A LazyFrame stays lazy.

        A matrix column (``matrix``, found as :meth:`decode` finds one) is activated span
        by span in place, into one new matrix column of one chunk; a 2-D numpy array
        comes back as a numpy array of the same shape (Float32 stays Float32, other
        numbers become Float64), the matrix's own memory, without a further copy.

        Parameters
        ----------
        data
            A frame holding every column of ``feature_names`` (any other columns too),
            or a matrix column, or a 2-D array (see :meth:`decode`).
        tau, hard
            As in :func:`~polars_gumbel.gumbel_softmax`.
        seed
            ``None``: fresh entropy. An int in ``[0, 2**64)``: each column's block draws
            from its own stream, derived from ``seed`` and the column's name exactly as
            :meth:`decode` derives it, so at ``tau=1`` the argmax of ``hard=True`` rows is
            the label ``decode(method="sample")`` draws with the same seed and key.
        key
            The name of an integer or String column whose values key the seeded noise
            (it passes through unchanged): each row's result is then a pure function of
            ``seed``, its key and its logits, whatever the batches. Without it the row's
            position is the key.
        matrix
            As in :meth:`decode`.

        Examples
        --------
        >>> import polars as pl
        >>> from polars_gumbel import Codec
        >>> codec = Codec.fit(pl.DataFrame({"sex": ["F", "M"], "race": ["a", "b"]}))
        >>> logits = pl.DataFrame({"age": [30.0, 41.0]}).with_columns(
        ...     pl.lit(0.5, pl.Float32).alias(name) for name in codec.feature_names
        ... )
        >>> out = codec.gumbel_softmax(logits, tau=0.5, hard=True, seed=7)
        >>> out.columns
        ['age', 'sex_F', 'sex_M', 'race_a', 'race_b']
        >>> out.select(pl.sum_horizontal("sex_F", "sex_M"))["sex_F"].to_list()
        [1.0, 1.0]
        >>> import numpy as np
        >>> codec.gumbel_softmax(np.zeros((2, 4), np.float32), hard=True, seed=7).sum(axis=1)
        array([2., 2.], dtype=float32)
        """
        array_in = not isinstance(data, (pl.DataFrame, pl.LazyFrame))
        data, matrix = self._matrix_input(data, matrix)
        lf = data.lazy()
        schema = lf.collect_schema()
        hard = _validate.flag("hard", hard)
        if key is not None:
            _validate.column_name("key", key)
        plan = self._plan(
            self._core.gumbel_plan, schema, _tau(tau), hard, _unsigned(seed), key, matrix
        )
        self._check_key("gumbel_softmax", key, schema)
        noise_key = None if seed is None else (_ROW if key is None else key)
        keyed = [] if noise_key is None else [pl.col(noise_key)]
        # Each block becomes one Struct column (temporarily named), which `unnest` turns
        # back into the flat columns; the last `select` restores the input's order.
        staged: list[pl.Expr] = []
        nested: list[str] = []
        for kind, step in plan:
            if kind == "pass":
                staged.append(pl.col(step))
                continue
            if kind == "activate":
                # A scalar feature's tanh or sigmoid, in place.
                staged.append(
                    _plugin(
                        "activate",
                        [pl.col(step["column"])],
                        {"activation": step["activation"]},
                        elementwise=True,
                    ).alias(step["column"])
                )
                continue
            if kind == "relax_matrix":
                args, name = [pl.col(step["column"]), *keyed], step["column"]
                function = "gumbel_softmax_spans"
            else:
                name = f"__polars_gumbel_block_{len(nested)}__"
                nested.append(name)
                # The block is named after its codec column, which errors then name.
                args = [pl.struct(step["columns"]).alias(step["column"]), *keyed]
                function = "gumbel_softmax"
            staged.append(
                _plugin(
                    function,
                    args,
                    step["options"],
                    elementwise=True,
                    deterministic=seed is not None,
                ).alias(name)
            )
        if noise_key == _ROW:
            lf = lf.with_row_index(_ROW)
        out = lf.select(staged)
        out = (out.unnest(nested) if nested else out).select(schema.names())
        if isinstance(data, pl.LazyFrame):
            return out
        if not any(kind == "relax_matrix" for kind, _ in plan):
            return out.collect()
        relaxed = _one_chunk(out, next(s["column"] for k, s in plan if k == "relax_matrix"))
        return relaxed.to_series().to_numpy() if array_in else relaxed

    def to_json(self) -> str:
        """The codec as its versioned JSON document."""
        return self._json

    @classmethod
    def from_json(cls, document: str) -> Codec:
        """Read a codec document.

        Every field is checked against every other (format, version, each column's name,
        dtype, categories and infrequent values, and the feature names of all columns
        together); a malformed or inconsistent document raises one ValueError naming the
        field at fault.
        """
        return cls(document)

    def save(self, path: str | Path) -> None:
        """Writes the codec's document (:meth:`to_json`) to ``path``, as UTF-8 text;
        :meth:`load` reads it back, and so do the command line and the Rust API."""
        Path(path).write_text(self._json + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Codec:
        """Read a codec document from a file; see ``from_json``."""
        try:
            document = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not a codec document: not UTF-8 text ({exc})") from None
        return cls(document)

    def sampler(
        self, real: pl.DataFrame | pl.LazyFrame, *, frequency: Literal["log", "true"] = "log"
    ) -> Any:
        """CTGAN's training-by-sampling over `real`, the table this codec was fitted on:
        a :class:`~polars_gumbel.sampling.Sampler` of condition vectors, masks and
        matching real rows, drawn by seed and step.

        Examples
        --------
        >>> import polars as pl
        >>> from polars_gumbel import Codec
        >>> real = pl.DataFrame({"sex": ["F", "M", "M"]})
        >>> Codec.fit(real).sampler(real, frequency="true").columns
        ['sex']
        """
        # Imported here: `sampling` reads a codec without importing this module.
        from polars_gumbel.sampling import Sampler

        return Sampler(self, real, frequency=frequency)


__all__ = ["MATRIX", "Block", "Codec", "EncodeLayout", "Order"]
