"""`Codec` operations on Ray Data, batch by batch, with the results of one process.

An optional module: ``pip install polars-gumbel[ray]`` installs the tested Ray Data.
Each function turns one `Codec` operation into a batch function (an Arrow table in, an
Arrow table out) or applies it to a ``ray.data.Dataset`` with ``map_batches``. Batches
move as Arrow (``batch_format="pyarrow"``) and enter Polars without a copy.

Ray cuts a dataset into blocks and batches as it likes, so a row's position in its
batch means nothing. Seeded sampling therefore requires a ``key``: a column of
integers or strings that names each row. Each row's noise is then a pure function of
the seed, its key and its column's stream, and the output does not depend on the
number of blocks, workers or nodes, nor on the order the rows arrive in. This holds for
each draw: a label or a mode decoded by sampling, the Gumbel-Softmax noise, and the
mode a numeric value is encoded in (``encode(method="sample", seed=...)``, CTGAN's
mode-specific normalisation).

Examples
--------
A whole pipeline (not run as a doctest: it starts a Ray cluster, several seconds):

>>> import ray  # doctest: +SKIP
>>> from polars_gumbel import Codec
>>> from polars_gumbel import ray as pgr  # doctest: +SKIP
>>> codec = Codec.load("codec.json")  # doctest: +SKIP
>>> real = ray.data.read_parquet("real/")  # doctest: +SKIP
>>> pgr.encode(real, codec, layout="matrix", seed=3, key="id").write_parquet(
...     "encoded/"
... )  # doctest: +SKIP
>>> logits = ray.data.read_parquet("logits/")  # doctest: +SKIP
>>> pgr.decode(logits, codec, method="sample", seed=7, key="id").write_parquet(
...     "synthetic/"
... )  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

try:
    import pyarrow as pa
    import ray.data
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        "polars_gumbel.ray needs Ray Data; install it with: pip install 'polars-gumbel[ray]'"
    ) from exc

from polars_gumbel import _validate
from polars_gumbel._typing import DecodeMethod
from polars_gumbel.codec import MATRIX, Codec, EncodeLayout
from polars_gumbel.expressions import _seed, _tau

#: A Ray Data batch function: one Arrow table in, one out.
BatchFn = Callable[["pa.Table"], "pa.Table"]

_FIXED = ("batch_format", "zero_copy_batch")


def _needs_key(operation: str, seed: int | None, key: str | None) -> None:
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must be a column name (str), got {type(key).__name__}")
    if seed is not None and key is None:
        raise ValueError(
            f"{operation} with a seed on Ray needs key=COLUMN: a column of integers or "
            "strings naming each row (for example a stable row id). Ray batches rows as "
            "it likes, so row positions differ from batch to batch and would repeat "
            "the same noise in every batch"
        )


def _batches(apply: Callable[[pl.DataFrame], pl.DataFrame]) -> BatchFn:
    def batch_fn(batch: pa.Table) -> pa.Table:
        frame = pl.from_arrow(batch, rechunk=False)
        if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a Table gives a frame
            raise TypeError(f"expected an Arrow table, got {type(batch).__name__}")
        return apply(frame).to_arrow()

    return batch_fn


def _map(dataset: ray.data.Dataset, fn: BatchFn, options: dict[str, Any]) -> ray.data.Dataset:
    fixed = [name for name in _FIXED if name in options]
    if fixed:
        raise TypeError(f"{fixed[0]} is fixed: batches move as Arrow tables, without a copy")
    options.setdefault("batch_size", None)  # whole blocks: fewer, larger Polars calls
    return dataset.map_batches(fn, batch_format="pyarrow", zero_copy_batch=True, **options)


def encode_batches(
    codec: Codec,
    *,
    layout: EncodeLayout = "flat",
    dtype: Any = pl.Float32,
    matrix: str = MATRIX,
    method: DecodeMethod = "sample",
    seed: int | None = None,
    key: str | None = None,
) -> BatchFn:
    """A batch function that encodes the codec's columns, as `Codec.encode`: one-hot
    the categorical ones, normalise the numeric ones.

    ``layout="matrix"`` writes every feature of a row into one column named ``matrix``,
    an Arrow ``FixedSizeList`` that reaches numpy and PyTorch without a copy.
    ``method``, ``seed`` and ``key`` choose each ``"mode"`` value's mode as in
    `Codec.encode`; a ``seed`` with ``method="sample"`` requires ``key``, as for
    sampled decoding.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import Codec
    >>> from polars_gumbel.ray import encode_batches
    >>> table = pl.DataFrame({"id": [1, 2], "sex": ["F", "M"]})
    >>> encode_batches(Codec.fit(table, numeric=None))(table.to_arrow()).column_names
    ['id', 'sex_F', 'sex_M']
    >>> table = pl.DataFrame({"id": [1, 2], "age": [31.0, 45.0]})
    >>> codec = Codec.fit(table, numeric={"age": "mode"})
    >>> fn = encode_batches(codec, seed=7, key="id")
    >>> pl.from_arrow(fn(table.to_arrow())).columns
    ['id', 'age_normalized', 'age_mode_0']
    >>> encode_batches(codec, seed=7)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: encode with a seed on Ray needs key=COLUMN: ...
    """
    _validate.choice("layout", layout, ("flat", "struct", "array", "matrix"))
    _validate.column_name("matrix", matrix)
    _validate.choice("method", method, ("argmax", "sample"))
    _seed(seed)
    _needs_key("encode", seed if method == "sample" else None, key)
    return _batches(
        lambda frame: codec.encode(
            frame, layout=layout, dtype=dtype, matrix=matrix, method=method, seed=seed, key=key
        )
    )


def decode_batches(
    codec: Codec,
    *,
    method: DecodeMethod = "argmax",
    tau: float = 1.0,
    seed: int | None = None,
    key: str | None = None,
    matrix: str | None = None,
) -> BatchFn:
    """A batch function that decodes scores back to the codec's columns (labels and
    numbers), as `Codec.decode`.

    ``method="sample"`` with a ``seed`` requires ``key``: each row's draw then depends on
    its key alone, never on the batch it arrives in. ``matrix`` as in `Codec.decode`:
    a batch may hold the scores as one ``FixedSizeList`` column, read in place.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import Codec
    >>> from polars_gumbel.ray import decode_batches
    >>> codec = Codec.fit(pl.DataFrame({"sex": ["F", "M"]}))
    >>> scores = pl.DataFrame({"id": [5, 6], "sex_F": [0.9, 0.2], "sex_M": [0.1, 0.8]})
    >>> pl.from_arrow(decode_batches(codec)(scores.to_arrow()))["sex"].to_list()
    ['F', 'M']
    >>> decode_batches(codec, method="sample", seed=7)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: decode with a seed on Ray needs key=COLUMN: ...
    """
    _validate.choice("method", method, ("argmax", "sample"))
    _tau(tau)
    _seed(seed)
    _needs_key("decode", seed if method == "sample" else None, key)
    if matrix is not None:
        _validate.column_name("matrix", matrix)
    return _batches(
        lambda frame: codec.decode(frame, method=method, tau=tau, seed=seed, key=key, matrix=matrix)
    )


def gumbel_softmax_batches(
    codec: Codec,
    *,
    tau: float = 1.0,
    hard: bool = False,
    seed: int | None = None,
    key: str | None = None,
    matrix: str | None = None,
) -> BatchFn:
    """A batch function that applies `Codec.gumbel_softmax` to a generator's output:
    flat feature columns, or one matrix column (``matrix`` as in `Codec.decode`).

    A ``seed`` requires ``key``, as for sampled decoding.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import Codec
    >>> from polars_gumbel.ray import gumbel_softmax_batches
    >>> codec = Codec.fit(pl.DataFrame({"sex": ["F", "M"]}))
    >>> logits = pl.DataFrame({"id": [5, 6], "sex_F": [0.0, 0.0], "sex_M": [0.0, 0.0]})
    >>> fn = gumbel_softmax_batches(codec, hard=True, seed=7, key="id")
    >>> pl.from_arrow(fn(logits.to_arrow())).select(pl.col("sex_F") + pl.col("sex_M"))
    shape: (2, 1)
    ┌───────┐
    │ sex_F │
    │ ---   │
    │ f64   │
    ╞═══════╡
    │ 1.0   │
    │ 1.0   │
    └───────┘
    """
    _tau(tau)
    _validate.flag("hard", hard)
    _seed(seed)
    _needs_key("gumbel_softmax", seed, key)
    if matrix is not None:
        _validate.column_name("matrix", matrix)
    return _batches(
        lambda frame: codec.gumbel_softmax(
            frame, tau=tau, hard=hard, seed=seed, key=key, matrix=matrix
        )
    )


def encode(
    dataset: ray.data.Dataset,
    codec: Codec,
    *,
    layout: EncodeLayout = "flat",
    dtype: Any = pl.Float32,
    matrix: str = MATRIX,
    method: DecodeMethod = "sample",
    seed: int | None = None,
    key: str | None = None,
    **map_batches_args: Any,
) -> ray.data.Dataset:
    """``dataset`` with the codec's columns encoded (`encode_batches`).

    A ``seed`` with ``method="sample"`` (each numeric value's mode drawn from its
    posterior) requires ``key``. ``map_batches_args`` go to ``Dataset.map_batches``
    (``batch_size``, ``concurrency``, ``num_cpus``, …); batches are whole blocks unless
    ``batch_size`` says otherwise.
    """
    fn = encode_batches(
        codec, layout=layout, dtype=dtype, matrix=matrix, method=method, seed=seed, key=key
    )
    return _map(dataset, fn, map_batches_args)


def decode(
    dataset: ray.data.Dataset,
    codec: Codec,
    *,
    method: DecodeMethod = "argmax",
    tau: float = 1.0,
    seed: int | None = None,
    key: str | None = None,
    matrix: str | None = None,
    **map_batches_args: Any,
) -> ray.data.Dataset:
    """``dataset`` with its score blocks decoded to labels (`decode_batches`).

    ``method="sample"`` with a ``seed`` requires ``key``. ``map_batches_args`` as in
    :func:`encode`.
    """
    fn = decode_batches(codec, method=method, tau=tau, seed=seed, key=key, matrix=matrix)
    return _map(dataset, fn, map_batches_args)


def gumbel_softmax(
    dataset: ray.data.Dataset,
    codec: Codec,
    *,
    tau: float = 1.0,
    hard: bool = False,
    seed: int | None = None,
    key: str | None = None,
    matrix: str | None = None,
    **map_batches_args: Any,
) -> ray.data.Dataset:
    """``dataset`` with each block's Gumbel-Softmax in place (`gumbel_softmax_batches`).

    A ``seed`` requires ``key``. ``map_batches_args`` as in :func:`encode`.
    """
    fn = gumbel_softmax_batches(codec, tau=tau, hard=hard, seed=seed, key=key, matrix=matrix)
    return _map(dataset, fn, map_batches_args)


__all__ = [
    "BatchFn",
    "decode",
    "decode_batches",
    "encode",
    "encode_batches",
    "gumbel_softmax",
    "gumbel_softmax_batches",
]
