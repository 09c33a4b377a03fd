"""`Codec.gumbel_softmax` and keyed `Codec.decode`: DESIGN §6 with §4's randomness.

References, never the codec's own earlier output:

- the per-block Gumbel-Softmax equals the ``gumbel_softmax`` expression applied by hand to
  a Struct of each block's columns, with the column's stream seed from
  ``_internal.derive_seed`` (the derivation the codec documents for decoding);
- keyed decoding equals the ``decode`` expression on each block with that seed and key;
- the properties §4 states: soft rows sum to 1, hard rows are one-hot, a seed repeats,
  columns draw from distinct streams, a keyed result does not depend on how the rows are
  split or ordered, and at ``tau=1`` the argmax of the hard relaxation is the label that
  sampled decoding draws.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from polars_gumbel import Codec, decode, gumbel_softmax
from polars_gumbel._internal import derive_seed
from polars_gumbel.demo import generator_logits

ROWS = 6_000
SEED = 20_240_601
ALPHA = 0.001


@pytest.fixture(scope="module")
def codec(adult: pl.DataFrame) -> Codec:
    return Codec.fit(adult, numeric=None)


@pytest.fixture(scope="module")
def logits(codec: Codec, adult: pl.DataFrame) -> pl.DataFrame:
    """Generator-like Float32 logits for every feature column, an ``id`` key that is not
    the row position, and a pass-through column between two blocks."""
    flat = generator_logits(codec, adult, ROWS, 0.5, seed=3)
    rng = np.random.default_rng(4)
    ids = pl.Series("id", rng.choice(10**12, ROWS, replace=False), dtype=pl.Int64)
    middle = codec.blocks[1][1]  # the first feature column of the second block
    names = flat.columns
    return flat.select(
        pl.lit(ids).alias("id"),
        *names[:middle],
        pl.Series("weight", rng.normal(size=ROWS)),
        *names[middle:],
    )


def by_hand(
    codec: Codec,
    frame: pl.DataFrame,
    *,
    tau: float,
    hard: bool,
    seed: int,
    key: str | None,
) -> pl.DataFrame:
    """Each block's Gumbel-Softmax, one expression per block, with its column's stream."""
    out = frame
    for column, _, _, labels in codec.blocks:
        names = [f"{column}_{label}" for label in labels]
        block = frame.select(
            gumbel_softmax(
                pl.struct(names),
                tau=tau,
                hard=hard,
                seed=derive_seed(seed, column),
                key=key,
            ).alias("block")
        ).unnest("block")
        out = out.with_columns(block)
    return out


def block_sums(codec: Codec, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.sum_horizontal(f"{c}_{label}" for label in labels).alias(c)
        for c, _, _, labels in codec.blocks
    )


# --------------------------------------------------------------------------- per-block Gumbel


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("key", [None, "id"])
def test_gumbel_softmax_equals_one_expression_per_block(
    codec: Codec, logits: pl.DataFrame, hard: bool, key: str | None
) -> None:
    out = codec.gumbel_softmax(logits, tau=0.7, hard=hard, seed=SEED, key=key)
    expected = by_hand(codec, logits, tau=0.7, hard=hard, seed=SEED, key=key)
    assert_frame_equal(out, expected)


def test_gumbel_softmax_soft_rows_are_distributions(codec: Codec, logits: pl.DataFrame) -> None:
    out = codec.gumbel_softmax(logits, tau=0.5, seed=SEED, key="id")
    features = out.select(codec.feature_names)
    assert set(features.schema.values()) == {pl.Float32}
    values = features.to_numpy()
    assert np.all((values >= 0.0) & (values <= 1.0))
    np.testing.assert_allclose(block_sums(codec, out).to_numpy(), 1.0, atol=1e-5)


def test_gumbel_softmax_hard_rows_are_one_hot(codec: Codec, logits: pl.DataFrame) -> None:
    out = codec.gumbel_softmax(logits, hard=True, seed=SEED, key="id")
    values = out.select(codec.feature_names).to_numpy()
    assert set(np.unique(values)) == {0.0, 1.0}
    assert np.all(block_sums(codec, out).to_numpy() == 1.0)


def test_gumbel_softmax_passes_other_columns_through_in_place(
    codec: Codec, logits: pl.DataFrame
) -> None:
    out = codec.gumbel_softmax(logits, seed=SEED)
    assert out.columns == logits.columns
    assert_frame_equal(out.select("id", "weight"), logits.select("id", "weight"))
    # The blocks did change: soft values are not the logits.
    assert not out.select(codec.feature_names).equals(logits.select(codec.feature_names))


def test_gumbel_softmax_seeded_repeats_and_seeds_differ(codec: Codec, logits: pl.DataFrame) -> None:
    first = codec.gumbel_softmax(logits, hard=True, seed=SEED, key="id")
    assert_frame_equal(codec.gumbel_softmax(logits, hard=True, seed=SEED, key="id"), first)
    other = codec.gumbel_softmax(logits, hard=True, seed=SEED + 1, key="id")
    changed = (first["sex_ Male"] != other["sex_ Male"]).sum()
    assert changed > ROWS // 10


def test_gumbel_softmax_unseeded_varies(codec: Codec, logits: pl.DataFrame) -> None:
    first = codec.gumbel_softmax(logits, hard=True)
    second = codec.gumbel_softmax(logits, hard=True)
    assert (first["sex_ Male"] != second["sex_ Male"]).sum() > ROWS // 10


def test_gumbel_softmax_columns_draw_from_distinct_streams() -> None:
    """Two columns with the same labels and the same logits on every row, under one seed:
    shared noise would make their samples equal on every row; independent streams agree
    with probability sum(p^2)."""
    labels = ["w", "x", "y", "z"]
    codec = Codec.fit(pl.DataFrame({"a": labels, "b": labels}), numeric=None)
    values = np.array([0.7, 0.0, -0.4, 1.2])
    rows = 20_000
    logits = pl.DataFrame(
        {name: np.full(rows, values[i % 4]) for i, name in enumerate(codec.feature_names)}
    )
    out = codec.gumbel_softmax(logits, hard=True, seed=SEED)
    a = out.select(codec.feature_names[:4]).to_numpy().argmax(axis=1)
    b = out.select(codec.feature_names[4:]).to_numpy().argmax(axis=1)
    p = np.exp(values) / np.exp(values).sum()
    assert abs(float((a == b).mean()) - float((p**2).sum())) < 0.02
    table = np.zeros((4, 4), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    assert stats.chi2_contingency(table).pvalue > ALPHA


def test_gumbel_softmax_keyed_does_not_depend_on_the_split(
    codec: Codec, logits: pl.DataFrame
) -> None:
    whole = codec.gumbel_softmax(logits, tau=0.5, seed=SEED, key="id")
    parts = pl.concat(
        codec.gumbel_softmax(logits[a:b], tau=0.5, seed=SEED, key="id")
        for a, b in [(0, 1_000), (1_000, 1_001), (1_001, ROWS)]
    )
    assert_frame_equal(parts, whole)
    shuffled = logits.sample(fraction=1.0, shuffle=True, seed=1)
    again = codec.gumbel_softmax(shuffled, tau=0.5, seed=SEED, key="id").sort("id")
    assert_frame_equal(again, whole.sort("id"))
    # Positional noise restarts in every part: the same split then changes the result.
    positional = pl.concat(
        codec.gumbel_softmax(logits[a:b], tau=0.5, seed=SEED)
        for a, b in [(0, 3_000), (3_000, ROWS)]
    )
    assert not positional.equals(codec.gumbel_softmax(logits, tau=0.5, seed=SEED))


def test_gumbel_softmax_lazy_stays_lazy_and_streams(codec: Codec, logits: pl.DataFrame) -> None:
    eager = codec.gumbel_softmax(logits, seed=SEED)
    lazy = codec.gumbel_softmax(logits.lazy(), seed=SEED)
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), eager)
    chunked = pl.concat([logits[:2_500], logits[2_500:]], rechunk=False)
    streamed = codec.gumbel_softmax(chunked.lazy(), seed=SEED).collect(engine="streaming")
    assert_frame_equal(streamed, eager)


def test_hard_gumbel_softmax_argmax_is_the_sampled_label(
    codec: Codec, logits: pl.DataFrame
) -> None:
    """At tau=1 the argmax of the hard relaxation is the label `decode` samples with the
    same seed and key (DESIGN §4: one perturbation, one stream per column)."""
    hard = codec.gumbel_softmax(logits, hard=True, seed=SEED, key="id")
    sampled = codec.decode(logits, method="sample", seed=SEED, key="id")
    assert_frame_equal(codec.decode(hard), sampled)


def test_gumbel_softmax_needs_every_feature_column(codec: Codec, logits: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="sex_ Male"):
        codec.gumbel_softmax(logits.drop("sex_ Male"), seed=SEED)


# --------------------------------------------------------------------------- keyed decoding


def test_keyed_decode_equals_the_decode_expression_per_block(
    codec: Codec, logits: pl.DataFrame
) -> None:
    out = codec.decode(logits, method="sample", tau=0.8, seed=SEED, key="id")
    expected = logits.select(
        "id",
        "weight",
        *(
            decode(
                pl.struct(f"{c}_{label}" for label in labels),
                labels,
                method="sample",
                tau=0.8,
                seed=derive_seed(SEED, c),
                key="id",
            ).alias(c)
            for c, _, _, labels in codec.blocks
        ),
    )
    assert out.columns == ["id", codec.columns[0], "weight", *codec.columns[1:]]
    assert_frame_equal(out, expected, check_column_order=False)


def test_keyed_decode_does_not_depend_on_the_split(codec: Codec, logits: pl.DataFrame) -> None:
    whole = codec.decode(logits, method="sample", seed=SEED, key="id")
    assert_frame_equal(whole.select("id"), logits.select("id"))
    parts = pl.concat(
        codec.decode(logits[a:b], method="sample", seed=SEED, key="id")
        for a, b in [(0, 7), (7, 2_000), (2_000, ROWS)]
    )
    assert_frame_equal(parts, whole)
    shuffled = logits.sample(fraction=1.0, shuffle=True, seed=2)
    again = codec.decode(shuffled.lazy(), method="sample", seed=SEED, key="id")
    assert_frame_equal(again.collect(engine="streaming").sort("id"), whole.sort("id"))
    # Without the key the same split changes the result: row positions restart per part.
    positional = pl.concat(
        codec.decode(logits[a:b], method="sample", seed=SEED)
        for a, b in [(0, 3_000), (3_000, ROWS)]
    )
    assert not positional.equals(codec.decode(logits, method="sample", seed=SEED))


def test_keyed_decode_with_string_keys(codec: Codec, logits: pl.DataFrame) -> None:
    named = logits.with_columns(pl.format("row-{}", "id").alias("id"))
    whole = codec.decode(named, method="sample", seed=SEED, key="id")
    parts = pl.concat(
        codec.decode(named[a:b], method="sample", seed=SEED, key="id")
        for a, b in [(0, 100), (100, ROWS)]
    )
    assert_frame_equal(parts, whole)


def test_keyed_sampling_keeps_the_softmax_frequencies() -> None:
    labels = ["w", "x", "y", "z"]
    values = np.array([0.7, 0.0, -0.4, 1.2])
    codec = Codec.fit(pl.DataFrame({"a": labels}), numeric=None)
    rows = 30_000
    rng = np.random.default_rng(9)
    frame = pl.DataFrame(
        {"id": rng.choice(2**62, rows, replace=False)}
        | {f"a_{label}": np.full(rows, v) for label, v in zip(labels, values)}
    )
    out = codec.decode(frame, method="sample", seed=5, key="id")
    counts = dict(out["a"].value_counts().iter_rows())
    observed = np.array([counts.get(label, 0) for label in labels])
    p = np.exp(values) / np.exp(values).sum()
    assert stats.chisquare(observed, p * rows).pvalue > ALPHA


def test_argmax_decode_ignores_the_key(codec: Codec, logits: pl.DataFrame) -> None:
    assert_frame_equal(codec.decode(logits, key="id"), codec.decode(logits))


@pytest.mark.parametrize(
    ("key", "error", "match"),
    [
        ("nope", ValueError, "no key column 'nope'"),
        ("weight", TypeError, "integer or String"),
        ("sex_ Male", ValueError, "one of the codec's blocks"),
        (3, TypeError, "column name"),
    ],
)
def test_bad_keys_are_clear_errors(
    codec: Codec, logits: pl.DataFrame, key: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        codec.decode(logits, method="sample", seed=1, key=key)  # type: ignore[call-overload]
    with pytest.raises(error, match=match):
        codec.gumbel_softmax(logits, seed=1, key=key)  # type: ignore[call-overload]


def test_null_key_is_a_clear_error(codec: Codec, logits: pl.DataFrame) -> None:
    holed = logits.with_columns(pl.when(pl.col("id") % 2 == 0).then("id").alias("id"))
    with pytest.raises(pl.exceptions.ComputeError, match="null"):
        codec.decode(holed, method="sample", seed=1, key="id")
    with pytest.raises(pl.exceptions.ComputeError, match="null"):
        codec.gumbel_softmax(holed, seed=1, key="id")
