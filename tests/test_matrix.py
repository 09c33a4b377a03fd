"""The codec's matrix: DESIGN §6, ``encode(layout="matrix")`` and decoding and activating
a generator's N x D matrix, as one Array column, a numpy array or an Arrow
FixedSizeList.

References: numpy (an N x D one-hot written from the table and the codec's spans, a
per-span argmax and softmax), and the properties the design states: the matrix holds
the flat layout's features row by row, decoding or activating the matrix gives what the
same scores as flat columns give, bit for bit (argmax, seeded sampling, soft and hard
Gumbel-Softmax, in memory and streaming), and no copy is made of a C-contiguous matrix.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from polars_gumbel import Codec

ALPHA = 0.001
INDICATORS = {
    pl.UInt8: np.uint8,
    pl.Boolean: np.bool_,
    pl.Float32: np.float32,
    pl.Float64: np.float64,
}


def reference_one_hot(table: pl.DataFrame, codec: Codec) -> npt.NDArray[np.float64]:
    """The N x D one-hot of `table`, written by numpy from the codec's spans and labels:
    a value's label is its string (booleans ``true`` / ``false``), a null is ``null``,
    and a value without a label of its own is ``other``."""
    out = np.zeros((table.height, codec.width))
    for name, start, _, labels in codec.blocks:
        where = {label: j for j, label in enumerate(labels)}
        for row, value in enumerate(table[name].to_list()):
            if value is None:
                label = "null"
            else:
                label = str(value).lower() if isinstance(value, bool) else str(value)
            out[row, start + where.get(label, where.get("other", -1))] = 1.0
    return out


def mixed() -> pl.DataFrame:
    """Categorical columns of every kind, nulls in some, around pass-through columns."""
    return pl.DataFrame(
        {
            "id": [10, 11, 12, 13, 14, 15],
            "s": ["a", "b", None, "a", "c", "b"],
            "t": pl.Series(["x", "y", "x", "x", "y", "y"], dtype=pl.Enum(["y", "x"])),
            "b": [True, None, False, True, False, True],
            "v": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
            "k": pl.Series([3, 1, 3, 2, 1, 1], dtype=pl.Int16),
        }
    )


@pytest.fixture(scope="module")
def codec(adult: pl.DataFrame) -> Codec:
    return Codec.fit(adult, numeric=None)


@pytest.fixture(scope="module")
def logits(adult: pl.DataFrame, codec: Codec) -> npt.NDArray[np.float32]:
    """Generator-like float32 logits: the one-hot rows of the table, noised."""
    onehot = reference_one_hot(adult, codec)
    rng = np.random.default_rng(0)
    return (np.log(onehot + 1e-3) + rng.normal(0.0, 0.8, onehot.shape)).astype(np.float32)


# --------------------------------------------------------------------------- encode


@pytest.mark.parametrize("dtype", list(INDICATORS))
def test_encode_matrix_is_the_one_hot_row_by_row(
    adult: pl.DataFrame, codec: Codec, dtype: Any
) -> None:
    out = codec.encode(adult, layout="matrix", dtype=dtype)
    assert out["features"].dtype == pl.Array(dtype, codec.width)
    got = out["features"].to_numpy()
    np.testing.assert_array_equal(got, reference_one_hot(adult, codec).astype(INDICATORS[dtype]))


def test_encode_matrix_takes_the_first_codec_columns_place(
    adult: pl.DataFrame, codec: Codec
) -> None:
    out = codec.encode(adult, layout="matrix", matrix="x")
    passed = [c for c in adult.columns if c not in codec.columns]
    first = adult.columns.index(codec.columns[0])
    assert out.columns == [*passed[:first], "x", *passed[first:]]
    assert_frame_equal(out.select(passed), adult.select(passed))


def test_encode_matrix_of_nulls_infrequent_values_and_every_dtype() -> None:
    df = mixed()
    codec = Codec.fit(df.head(4), ["s", "t", "b", "k"], min_frequency=2, numeric=None)
    assert codec.blocks[0][3] == ["a", "null", "other"]
    # "b" was infrequent at fit time and "c" unseen: both are `other`.
    out = codec.encode(df, layout="matrix")["features"]
    np.testing.assert_array_equal(out.to_numpy(), reference_one_hot(df, codec))
    # A null the codec has no field for is null in its own span only.
    strict = Codec.fit(pl.DataFrame({"s": ["a", "b"], "u": ["p", "q"]}), numeric=None)
    rows = strict.encode(pl.DataFrame({"s": ["a", None], "u": ["q", "p"]}), layout="matrix")
    assert rows["features"].to_list() == [[1.0, 0.0, 0.0, 1.0], [None, None, 1.0, 0.0]]


def test_encode_matrix_is_lazy_and_streams(adult: pl.DataFrame, codec: Codec) -> None:
    lazy = codec.encode(adult.lazy(), layout="matrix")
    assert lazy.collect_schema()["features"] == pl.Array(pl.Float32, codec.width)
    eager = codec.encode(adult, layout="matrix")
    for engine in ("in-memory", "streaming"):
        assert_frame_equal(lazy.collect(engine=engine), eager)


def test_encode_matrix_to_numpy_is_a_view(adult: pl.DataFrame, codec: Codec) -> None:
    column = codec.encode(adult, layout="matrix")["features"]
    assert column.n_chunks() == 1
    first, second = column.to_numpy(), column.to_numpy()
    assert first.flags.c_contiguous
    assert first.shape == (adult.height, codec.width)
    # The same memory on two calls: the Series' own buffer, not a copy.
    assert first.ctypes.data == second.ctypes.data
    assert np.shares_memory(first, second)


# --------------------------------------------------------------------------- round trips


def test_round_trip_restores_a_table_whose_codec_columns_are_side_by_side() -> None:
    df = mixed().select("id", "s", "t", "b", "k", "v")
    codec = Codec.fit(df, numeric=None)
    assert_frame_equal(codec.decode(codec.encode(df, layout="matrix")), df)


def test_round_trip_restores_the_fitted_tables_order(adult: pl.DataFrame, codec: Codec) -> None:
    # Adult's categorical columns stand between numeric ones: the codec keeps the table's
    # column order, which the matrix does not.
    assert_frame_equal(codec.decode(codec.encode(adult, layout="matrix")), adult)
    lazy = codec.decode(codec.encode(adult.lazy(), layout="matrix"))
    assert_frame_equal(lazy.collect(), adult)


def test_a_column_the_table_lacks_keeps_the_codec_columns_in_the_matrix_place(
    adult: pl.DataFrame, codec: Codec
) -> None:
    encoded = codec.encode(adult, layout="matrix").with_columns(pl.lit(1).alias("extra"))
    back = codec.decode(encoded)
    passed = [c for c in adult.columns if c not in codec.columns]
    first = adult.columns.index(codec.columns[0])
    order = [*passed[:first], *codec.columns, *passed[first:], "extra"]
    assert_frame_equal(back, adult.with_columns(pl.lit(1).alias("extra")).select(order))


def test_documents_without_the_table_order_decode_in_the_matrix_place(
    adult: pl.DataFrame, codec: Codec
) -> None:
    document = json.loads(codec.to_json())
    assert document["table"] == adult.columns
    del document["table"]
    older = Codec.from_json(json.dumps(document))
    back = older.decode(codec.encode(adult, layout="matrix"))
    passed = [c for c in adult.columns if c not in codec.columns]
    first = adult.columns.index(codec.columns[0])
    assert back.columns == [*passed[:first], *codec.columns, *passed[first:]]


# --------------------------------------------------------------------------- decode


def test_argmax_decode_of_a_numpy_matrix_is_numpy_argmax(
    adult: pl.DataFrame, codec: Codec, logits: npt.NDArray[np.float32]
) -> None:
    out = codec.decode(logits)
    assert out.columns == codec.columns
    for name, start, stop, labels in codec.blocks:
        want = np.array(labels, dtype=object)[logits[:, start:stop].argmax(axis=1)]
        assert out[name].to_list() == want.tolist(), name
    assert out.schema == adult.select(codec.columns).schema


@pytest.mark.parametrize("method", ["argmax", "sample"])
@pytest.mark.parametrize("key", [None, "id"])
def test_matrix_decode_equals_flat_decode_bit_for_bit(
    codec: Codec, logits: npt.NDArray[np.float32], method: str, key: str | None
) -> None:
    ids = pl.Series("id", np.arange(logits.shape[0]) * 7 + 3)
    flat = pl.DataFrame(logits, schema=codec.feature_names).with_columns(ids)
    matrix = pl.DataFrame({"features": logits}).with_columns(ids)
    options: dict[str, Any] = {"method": method, "seed": 11, "key": key, "tau": 0.7}
    want = codec.decode(flat, **options)
    assert_frame_equal(codec.decode(matrix, **options), want)
    for engine in ("in-memory", "streaming"):
        assert_frame_equal(codec.decode(matrix.lazy(), **options).collect(engine=engine), want)
    if key is None:
        assert_frame_equal(codec.decode(logits, **options), want.drop("id"))


def test_matrix_inputs_numpy_arrow_and_frames_agree(
    codec: Codec, logits: npt.NDArray[np.float32]
) -> None:
    want = codec.decode(pl.DataFrame(logits, schema=codec.feature_names), method="sample", seed=2)
    arrow = pa.FixedSizeListArray.from_arrays(pa.array(logits.ravel()), codec.width)
    assert_frame_equal(codec.decode(arrow, method="sample", seed=2), want)
    table = pa.table({"g": arrow})
    assert_frame_equal(codec.decode(table, method="sample", seed=2, matrix="g"), want)
    named = pl.DataFrame({"scores": logits})
    assert_frame_equal(codec.decode(named, method="sample", seed=2, matrix="scores"), want)


def test_decoding_a_numpy_matrix_makes_no_copy(
    codec: Codec, logits: npt.NDArray[np.float32]
) -> None:
    frame, name = codec._matrix_input(logits, None)
    assert name == "features"
    assert np.shares_memory(frame[name].to_numpy(), logits)


def test_sampled_matrix_decode_follows_the_softmax(codec: Codec) -> None:
    """A chi-square test of one row's draws, repeated over rows keyed apart, against
    numpy's softmax of that row's span divided by tau."""
    rng = np.random.default_rng(5)
    row = rng.normal(0.0, 1.0, codec.width).astype(np.float32)
    n, tau = 20_000, 0.8
    out = codec.decode(np.tile(row, (n, 1)), method="sample", seed=9, tau=tau)
    for name, start, stop, labels in codec.blocks:
        if stop - start > 20:
            continue  # rare cells make the chi-square unreliable; narrow blocks suffice
        x = row[start:stop].astype(np.float64) / tau
        p = np.exp(x - x.max())
        p /= p.sum()
        counts = out[name].cast(pl.String).value_counts()
        seen = dict(zip(counts[name].to_list(), counts["count"].to_list()))
        observed = np.array([seen.get(label, 0) for label in labels])
        assert observed.sum() == n
        assert stats.chisquare(observed, p * n).pvalue > ALPHA, name


# --------------------------------------------------------------------------- activation


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("key", [None, "id"])
def test_matrix_gumbel_softmax_equals_flat_bit_for_bit(
    codec: Codec, logits: npt.NDArray[np.float32], hard: bool, key: str | None
) -> None:
    ids = pl.Series("id", np.arange(logits.shape[0]) * 5 - 9)
    flat = pl.DataFrame(logits, schema=codec.feature_names).with_columns(ids)
    matrix = pl.DataFrame({"features": logits}).with_columns(ids)
    want = codec.gumbel_softmax(flat, tau=0.5, hard=hard, seed=4, key=key).select(
        codec.feature_names
    )
    got = codec.gumbel_softmax(matrix, tau=0.5, hard=hard, seed=4, key=key)
    assert got.columns == ["features", "id"]
    np.testing.assert_array_equal(got["features"].to_numpy(), want.to_numpy())
    lazy = codec.gumbel_softmax(matrix.lazy(), tau=0.5, hard=hard, seed=4, key=key)
    np.testing.assert_array_equal(
        lazy.collect(engine="streaming")["features"].to_numpy(), want.to_numpy()
    )
    if key is None:
        array = codec.gumbel_softmax(logits, tau=0.5, hard=hard, seed=4)
        assert isinstance(array, np.ndarray)
        assert array.dtype == np.float32
        np.testing.assert_array_equal(array, want.to_numpy())


def test_matrix_gumbel_softmax_is_a_softmax_per_span(
    codec: Codec, logits: npt.NDArray[np.float32]
) -> None:
    out = codec.gumbel_softmax(logits.astype(np.float64), tau=0.5, seed=1)
    assert out.dtype == np.float64
    for _, start, stop, _ in codec.blocks:
        np.testing.assert_allclose(out[:, start:stop].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    hard = codec.gumbel_softmax(logits, hard=True, seed=1)
    for _, start, stop, _ in codec.blocks:
        np.testing.assert_array_equal(hard[:, start:stop].sum(axis=1), 1.0)


def test_hard_matrix_activation_decodes_to_the_sampled_labels(
    codec: Codec, logits: npt.NDArray[np.float32]
) -> None:
    # DESIGN §3: at tau = 1 the hard sample's argmax is the label sampling draws.
    hard = codec.gumbel_softmax(logits, hard=True, seed=8)
    assert_frame_equal(codec.decode(hard), codec.decode(logits, method="sample", seed=8))


def test_the_ctgan_style_example_runs() -> None:
    example = Path(__file__).parents[1] / "examples" / "ctgan_style.py"
    done = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "dtypes kept: True" in done.stdout
