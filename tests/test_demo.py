"""The demo's pieces in one process: its KS distance against SciPy's, and the
generator-like logits it (and the Ray and CLI tests) decode. The demo's own run is
`test_cli.py::test_demo`."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from polars_gumbel import Codec
from polars_gumbel.demo import generator_logits, ks_distance, numeric_columns

ROWS = 3_000


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.random.default_rng(1).normal(size=500), np.random.default_rng(2).normal(size=700)),
        # Ties within and across the samples, as integer columns have.
        (np.random.default_rng(3).integers(0, 5, 400), np.random.default_rng(4).integers(0, 7, 90)),
        (np.zeros(10), np.r_[np.zeros(9), 1.0]),
        (np.array([1.0]), np.array([1.0])),
    ],
)
def test_ks_distance_is_scipys_statistic(a: np.ndarray, b: np.ndarray) -> None:
    want = stats.ks_2samp(a, b).statistic
    assert ks_distance(a, b) == pytest.approx(want, abs=1e-12)
    assert ks_distance(b, a) == pytest.approx(want, abs=1e-12)


def test_ks_distance_of_an_empty_sample_is_nan() -> None:
    assert np.isnan(ks_distance([], [1.0]))


@pytest.fixture(scope="module")
def codec(adult: pl.DataFrame) -> Codec:
    return Codec.fit(adult)


@pytest.fixture(scope="module")
def logits(codec: Codec, adult: pl.DataFrame) -> pl.DataFrame:
    return generator_logits(codec, adult, ROWS, 0.5, seed=3)


def test_numeric_columns(codec: Codec, adult: pl.DataFrame) -> None:
    assert numeric_columns(codec) == [c for c in adult.columns if adult[c].dtype.is_integer()]
    assert numeric_columns(Codec.fit(adult, numeric=None)) == []


def test_logits_are_one_float32_column_per_feature(codec: Codec, logits: pl.DataFrame) -> None:
    assert logits.columns == codec.feature_names
    assert logits.height == ROWS
    assert set(logits.dtypes) == {pl.Float32}
    assert logits.null_count().sum_horizontal().item() == 0


def test_logits_keep_the_real_modes_and_scalars(
    codec: Codec, adult: pl.DataFrame, logits: pl.DataFrame
) -> None:
    """Each mode block is the log of its real frequencies plus noise: sampling from it
    draws the modes about as often as the encoded real values sit in them; each scalar
    is a real row's, within a little noise."""
    encoded = codec.encode(adult, layout="matrix", seed=3)["features"].to_numpy()
    flat = logits.to_numpy()
    for span in codec.spans:
        a, b = span.start, span.stop
        if span.activation == "softmax" and span.column in numeric_columns(codec):
            share = encoded[:, a:b].mean(axis=0)
            lognormal_mean = np.exp(0.5**2 / 2)  # E[exp(noise)], noise ~ N(0, 0.5^2)
            drawn = np.exp(flat[:, a:b]).mean(axis=0) / lognormal_mean
            np.testing.assert_allclose(drawn, share, atol=0.02)
        elif span.activation == "tanh":
            # Each generated scalar is some real encoded scalar, within 6 standard
            # deviations of the noise (SCALAR_NOISE * 0.5 = 0.001).
            real = np.unique(encoded[:, a])
            x = flat[:, a]
            i = np.searchsorted(real, x).clip(1, real.size - 1)
            gap = np.minimum(np.abs(real[i] - x), np.abs(real[i - 1] - x))
            assert gap.max() < 6 * 0.001, span.column


def test_logits_without_numeric_columns(adult: pl.DataFrame) -> None:
    """A codec that passes numbers through: categorical blocks only, as before."""
    codec = Codec.fit(adult, numeric=None)
    logits = generator_logits(codec, adult, 100, 0.0, seed=0)
    assert logits.columns == codec.feature_names
    # No noise: every row is the log of the real frequencies.
    sex = logits.select(pl.col("^sex_.*$").exp()).row(0)
    share = adult["sex"].value_counts(normalize=True).sort("sex")["proportion"].to_list()
    np.testing.assert_allclose(sex, share, rtol=1e-6)
