"""The demo's pieces in one process: the generator-like logits it (and the Ray and CLI
tests) decode, and its picture. The demo's own run is `test_cli.py::test_demo`; its
distances come from polars_gumbel.metrics, tested against SDMetrics in test_metrics.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from polars_gumbel import Codec, metrics, plot
from polars_gumbel.demo import generator_logits, numeric_columns

ROWS = 3_000


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


def test_the_picture_shows_every_column(
    codec: Codec, adult: pl.DataFrame, logits: pl.DataFrame, tmp_path: Path
) -> None:
    """The PNG has the size its figure asks for, and is not blank: its pixels vary, and
    a good share of them is drawn on."""
    image = pytest.importorskip("matplotlib.image")
    argmax = codec.decode(logits, method="argmax")
    sampled = codec.decode(logits, method="sample", seed=1)
    frames = {"real": adult, "argmax": argmax, "sampled": sampled}
    reports = {
        name: metrics.quality_report(adult, frames[name], codec)
        for name in frames
        if name != "real"
    }
    kinds = metrics.column_kinds(adult, codec=codec)
    path = plot.comparison(tmp_path / "adult.png", frames, kinds, reports)
    pixels = image.imread(path)
    # 4 x 4 panels of 4.2 x 3.3 inches, and 0.8 inch of heading, at 90 dots an inch.
    assert pixels.shape[:2] == (round((3.3 * 4 + 0.8) * 90), round(4.2 * 4 * 90))
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.1
    assert (grey < 0.9).mean() > 0.05


def test_the_picture_without_matplotlib_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'polars-gumbel\[plot\]'"):
        plot.check()
    from polars_gumbel.cli import main

    assert main(["demo", "--plot", "never.png"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"polars-gumbel: error: {plot.MISSING_EXTRA}"]
