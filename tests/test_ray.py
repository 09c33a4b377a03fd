"""`polars_gumbel.ray` on a local Ray cluster: DESIGN §8.

The data is the bundled Adult table (9 categorical and 6 numeric columns, the latter
in CTGAN's mode-specific normalisation) scaled to 200,000 rows: generator-like logits
(a stand-in for a trained generator, as the demo makes them) for decoding and the
per-span activation, and resampled real rows for encoding, each with a stable integer
``id`` that is not the row position. Every draw is seeded and keyed on ``id``: the
labels and modes sampled in decoding, the Gumbel noise, and the mode each numeric
value is encoded in. The reference is the single-process `Codec` method on the same
whole table; Ray's output, gathered and sorted back by ``id``, must equal it bit for
bit whether the dataset comes in 1, 3 or 7 blocks or is shuffled first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import ray
import ray.data
from polars.testing import assert_frame_equal

from polars_gumbel import Codec
from polars_gumbel import ray as pgr
from polars_gumbel.demo import generator_logits

ROWS = 200_000
SEED = 7

# Ray Data warns about its own deprecated settings when it builds its context.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local two-CPU Ray cluster for this module, shut down at its end."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def codec(adult: pl.DataFrame) -> Codec:
    codec = Codec.fit(adult)
    assert any(s.activation == "tanh" for s in codec.spans)  # numeric columns, "mode"
    return codec


def ids(rows: int) -> pl.Series:
    """Stable integer row names, unrelated to positions: a fixed permutation, spread out."""
    rng = np.random.default_rng(11)
    return pl.Series("id", rng.permutation(rows) * 1_000_003 + 17, dtype=pl.Int64)


@pytest.fixture(scope="module")
def logits(codec: Codec, adult: pl.DataFrame) -> pl.DataFrame:
    flat = generator_logits(codec, adult, ROWS, 0.5, seed=1)
    return flat.insert_column(0, ids(ROWS))


@pytest.fixture(scope="module")
def real(adult: pl.DataFrame) -> pl.DataFrame:
    table = adult.sample(ROWS, with_replacement=True, seed=2)
    return table.insert_column(0, ids(ROWS))


#: How the rows reach Ray: (blocks, shuffled first).
SPLITTINGS = [(1, False), (3, False), (7, False), (7, True)]
SPLIT_IDS = ["1 block", "3 blocks", "7 blocks", "7 blocks shuffled"]


def dataset(frame: pl.DataFrame, blocks: int, shuffle: bool) -> ray.data.Dataset:
    """``frame`` as a Ray dataset of exactly ``blocks`` blocks, optionally shuffled."""
    bounds = np.linspace(0, frame.height, blocks + 1).astype(int)
    tables = [frame[a:b].to_arrow() for a, b in zip(bounds, bounds[1:])]
    ds = ray.data.from_arrow(tables)
    assert ds.num_blocks() == blocks
    return ds.random_shuffle(seed=3) if shuffle else ds


def gathered(ds: ray.data.Dataset) -> pl.DataFrame:
    """Every output block, back in one process, sorted by ``id``."""
    tables: list[pa.Table] = ray.get(ds.to_arrow_refs())
    frames = [pl.from_arrow(t) for t in tables if t.num_rows]
    return pl.concat(f for f in frames if isinstance(f, pl.DataFrame)).sort("id")


@pytest.fixture(scope="module")
def decoded(codec: Codec, logits: pl.DataFrame) -> pl.DataFrame:
    """The reference: one process, the whole table."""
    return codec.decode(logits, method="sample", seed=SEED, key="id").sort("id")


@pytest.fixture(scope="module")
def relaxed(codec: Codec, logits: pl.DataFrame) -> pl.DataFrame:
    return codec.gumbel_softmax(logits, tau=0.5, seed=SEED, key="id").sort("id")


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize(("blocks", "shuffle"), SPLITTINGS, ids=SPLIT_IDS)
def test_keyed_sampled_decode_equals_one_process(
    codec: Codec, logits: pl.DataFrame, decoded: pl.DataFrame, blocks: int, shuffle: bool
) -> None:
    ds = dataset(logits, blocks, shuffle)
    out = gathered(pgr.decode(ds, codec, method="sample", seed=SEED, key="id"))
    assert out.columns == ["id", *codec.columns]
    assert_frame_equal(out, decoded)


@pytest.mark.usefixtures("cluster")
def test_positional_noise_would_differ_per_block(
    codec: Codec, logits: pl.DataFrame, decoded: pl.DataFrame
) -> None:
    """The comparison above can fail: without the key, each block's rows are numbered
    from 0 again, and the same three-block pipeline no longer gives the whole-table
    result."""

    def positional(batch: pa.Table) -> pa.Table:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        return codec.decode(frame, method="sample", seed=SEED).to_arrow()

    ds = dataset(logits, 3, shuffle=False).map_batches(positional, batch_format="pyarrow")
    out = gathered(ds)
    assert out.height == decoded.height
    assert not out.equals(decoded)


@pytest.fixture(scope="module")
def encoded(codec: Codec, real: pl.DataFrame) -> pl.DataFrame:
    """The reference: each numeric value's mode drawn keyed on ``id``, in one process."""
    return codec.encode(real, seed=SEED, key="id").sort("id")


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize(("blocks", "shuffle"), SPLITTINGS, ids=SPLIT_IDS)
def test_keyed_encode_equals_one_process(
    codec: Codec, real: pl.DataFrame, encoded: pl.DataFrame, blocks: int, shuffle: bool
) -> None:
    out = gathered(pgr.encode(dataset(real, blocks, shuffle), codec, seed=SEED, key="id"))
    assert_frame_equal(out, encoded)
    # Decoded back (on Ray too): the one-process round trip.
    back = gathered(pgr.decode(dataset(out, blocks, shuffle), codec))
    assert_frame_equal(back, codec.decode(encoded))


@pytest.mark.usefixtures("cluster")
def test_argmax_encode_equals_one_process(codec: Codec, real: pl.DataFrame) -> None:
    """Each value in its most probable mode: no draw, no key needed."""
    head = real.head(20_000)
    out = gathered(pgr.encode(dataset(head, 3, shuffle=False), codec, method="argmax"))
    assert_frame_equal(out, codec.encode(head, method="argmax").sort("id"))


@pytest.mark.usefixtures("cluster")
def test_positional_mode_draws_would_differ_per_block(
    codec: Codec, real: pl.DataFrame, encoded: pl.DataFrame
) -> None:
    """The comparison above can fail: without the key, each block's rows are numbered
    from 0 again, and the modes drawn differ from the whole-table encoding."""

    def positional(batch: pa.Table) -> pa.Table:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        return codec.encode(frame, seed=SEED).to_arrow()

    ds = dataset(real, 3, shuffle=False).map_batches(positional, batch_format="pyarrow")
    out = gathered(ds)
    assert out.height == encoded.height
    assert not out.equals(encoded)


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize(("blocks", "shuffle"), SPLITTINGS, ids=SPLIT_IDS)
def test_keyed_soft_gumbel_softmax_equals_one_process(
    codec: Codec, logits: pl.DataFrame, relaxed: pl.DataFrame, blocks: int, shuffle: bool
) -> None:
    ds = dataset(logits, blocks, shuffle)
    out = gathered(pgr.gumbel_softmax(ds, codec, tau=0.5, seed=SEED, key="id"))
    assert_frame_equal(out, relaxed)


@pytest.fixture(scope="module")
def matrix(codec: Codec, logits: pl.DataFrame) -> pl.DataFrame:
    """The same logits as one matrix column (an Arrow FixedSizeList on Ray)."""
    return logits.select("id", pl.Series("features", logits.select(codec.feature_names).to_numpy()))


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize(("blocks", "shuffle"), SPLITTINGS, ids=SPLIT_IDS)
def test_matrix_batches_equal_one_process(
    codec: Codec,
    real: pl.DataFrame,
    matrix: pl.DataFrame,
    decoded: pl.DataFrame,
    relaxed: pl.DataFrame,
    blocks: int,
    shuffle: bool,
) -> None:
    ds = dataset(real, blocks, shuffle)
    encoded = gathered(pgr.encode(ds, codec, layout="matrix", seed=SEED, key="id"))
    assert_frame_equal(encoded, codec.encode(real, layout="matrix", seed=SEED, key="id").sort("id"))
    ds = dataset(matrix, blocks, shuffle)
    out = gathered(pgr.decode(ds, codec, method="sample", seed=SEED, key="id"))
    assert_frame_equal(out, decoded)
    soft = gathered(pgr.gumbel_softmax(ds, codec, tau=0.5, seed=SEED, key="id"))
    np.testing.assert_array_equal(
        soft["features"].to_numpy(), relaxed.select(codec.feature_names).to_numpy()
    )


@pytest.mark.usefixtures("cluster")
def test_argmax_decode_with_small_batches(codec: Codec, logits: pl.DataFrame) -> None:
    """Batches smaller than blocks (``batch_size`` passed through to ``map_batches``)."""
    head = logits.head(20_000)
    expected = codec.decode(head).sort("id")
    out = gathered(pgr.decode(dataset(head, 3, shuffle=False), codec, batch_size=1_500))
    assert_frame_equal(out, expected)


@pytest.mark.usefixtures("cluster")
def test_seeded_sampling_without_a_key_is_refused(codec: Codec) -> None:
    ds = ray.data.range(1)  # never executed: the refusal comes before any work
    with pytest.raises(ValueError, match="needs key=COLUMN"):
        pgr.decode(ds, codec, method="sample", seed=SEED)
    with pytest.raises(ValueError, match="needs key=COLUMN"):
        pgr.gumbel_softmax(ds, codec, seed=SEED)
    with pytest.raises(ValueError, match="needs key=COLUMN"):
        pgr.decode_batches(codec, method="sample", seed=SEED)
    with pytest.raises(ValueError, match="encode with a seed on Ray needs key=COLUMN"):
        pgr.encode(ds, codec, seed=SEED)
    with pytest.raises(ValueError, match="needs key=COLUMN"):
        pgr.encode_batches(codec, layout="matrix", seed=SEED)
    pgr.encode_batches(codec, method="argmax", seed=SEED)  # no draw: no key needed


@pytest.mark.usefixtures("cluster")
def test_batch_format_is_fixed(codec: Codec) -> None:
    with pytest.raises(TypeError, match="batch_format"):
        pgr.decode(ray.data.range(1), codec, batch_format="pandas")


def test_batch_function_is_the_codec_method(
    codec: Codec, logits: pl.DataFrame, real: pl.DataFrame
) -> None:
    """Without Ray: a batch function applied to Arrow batches by hand."""

    def by_hand(fn: pgr.BatchFn, frame: pl.DataFrame) -> pl.DataFrame:
        table = frame.to_arrow()
        parts = [pl.from_arrow(fn(table.slice(a, 50_000))) for a in range(0, ROWS, 50_000)]
        return pl.concat(p for p in parts if isinstance(p, pl.DataFrame))

    fn = pgr.decode_batches(codec, method="sample", seed=SEED, key="id")
    out = by_hand(fn, logits)
    assert_frame_equal(out, codec.decode(logits, method="sample", seed=SEED, key="id"))
    fn = pgr.encode_batches(codec, seed=SEED, key="id")
    assert_frame_equal(by_hand(fn, real), codec.encode(real, seed=SEED, key="id"))


def test_batches_move_without_a_copy(codec: Codec, logits: pl.DataFrame) -> None:
    """Arrow into Polars and back shares the buffers: a pass-through column comes out in
    the very buffer it went in (as slices of it when Polars splits the work)."""

    def addresses(table: pa.Table, column: str) -> set[int]:
        return {int(chunk.buffers()[1].address) for chunk in table.column(column).chunks}

    batch = logits.head(1_000).to_arrow().combine_chunks()
    (given,) = addresses(batch, "id")
    for fn in (
        pgr.decode_batches(codec, method="sample", seed=SEED, key="id"),
        pgr.gumbel_softmax_batches(codec, seed=SEED, key="id"),
    ):
        assert addresses(fn(batch), "id") == {given}


def test_import_without_ray_names_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["ray"] = None  # as if Ray were not installed
        try:
            import polars_gumbel.ray
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'polars-gumbel[ray]'" in done.stdout
