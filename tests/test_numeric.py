"""Numeric columns of a `Codec`: mode-specific normalisation (CTGAN; RDT's
``ClusterBasedNormalizer``), the z-score and the min-max scaling.

Every expected value comes from an independent reference or a stated property:

- numpy recomputations of the encoding and decoding formulas from the codec's own
  document (its modes, range and rounding), never the codec's earlier output alone;
- RDT's ``ClusterBasedNormalizer`` (a test-only dependency): its own transform obeys the
  same formula, and our codec, given RDT's fitted modes, decodes RDT's output to RDT's
  ``reverse_transform`` and encodes as RDT does wherever both choose the same mode;
- statistics: the sampled modes follow the posterior (χ²), sampled decoding reproduces
  a column's distribution (Kolmogorov-Smirnov), both at alpha = 0.001 with fixed seeds;
- properties the design states: round trips, seeded draws that are pure functions of
  seed, column and key (chunks, engines, layouts and row subsets agree bit for bit),
  the activations of ``gumbel_softmax``, and clear errors (hostile inputs run each in
  an interpreter of its own, so an abort fails one case instead of the run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from scipy import stats

from polars_gumbel import Codec, _internal
from polars_gumbel._typing import DecodeMethod
from polars_gumbel.codec import EncodeLayout

DType = Union[pl.DataType, type[pl.DataType]]
F64 = npt.NDArray[np.float64]

FIXTURE = Path(__file__).parent / "fixtures" / "adult_codec.json"
ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
LAYOUTS: tuple[EncodeLayout, ...] = ("flat", "struct", "array", "matrix")
BLOCK_LAYOUTS: tuple[EncodeLayout, ...] = ("struct", "array")
METHODS: tuple[DecodeMethod, ...] = ("argmax", "sample")
ENGINES: tuple[Literal["streaming", "in-memory"], ...] = ("streaming", "in-memory")
ALPHA = 0.001
CLIP = 0.99
STD_MULTIPLIER = 4.0
MIN_WEIGHT = 0.005


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Entry:
    """A numeric column's entry of the codec document, as numpy arrays."""

    name: str
    dtype: Any
    transform: str
    weights: F64
    means: F64
    stds: F64
    lo: float
    hi: float
    round: bool
    null_indicator: bool

    @property
    def k(self) -> int:
        """The number of mode indicators."""
        return len(self.weights) if self.transform == "mode" else 0

    def fill(self) -> float:
        """The value a null is encoded as: the fitted mean."""
        if self.transform == "minmax":
            return 0.5 * (self.lo + self.hi)
        return float((self.weights * self.means).sum())

    def log_posterior(self, x: F64) -> F64:
        """ln w_c + ln N(x | mu_c, sigma_c^2), up to a constant, for every mode (N x K)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (x[:, None] - self.means[None, :]) / self.stds[None, :]
            out: F64 = np.log(self.weights)[None, :] - np.log(self.stds)[None, :] - 0.5 * z**2
        return out

    def posterior(self, x: float) -> F64:
        lp = self.log_posterior(np.array([x]))[0]
        e = np.exp(lp - lp.max())
        out: F64 = e / e.sum()
        return out

    def scalar(self, x: F64, c: npt.NDArray[np.int64]) -> F64:
        """The encoded scalar of `x` in mode `c` (``c`` is ignored but by ``mode``)."""
        if self.transform == "mode":
            mu, sigma = self.means[c], self.stds[c]
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.clip((x - mu) / (STD_MULTIPLIER * sigma), -CLIP, CLIP)
            out: F64 = np.where(sigma > 0, z, 0.0)
            return out
        if self.transform == "standard":
            mu, sigma = self.means[0], self.stds[0]
            return (x - mu) / sigma if sigma > 0 else np.zeros_like(x)
        return 2.0 * (x - self.lo) / (self.hi - self.lo) - 1.0 if self.hi > self.lo else 0.0 * x

    def value(self, alpha: F64, c: npt.NDArray[np.int64]) -> F64:
        """The decoded number of scalar `alpha` in mode `c`: clipped to the fitted range,
        rounded (half to even) when the column is."""
        if self.transform == "mode":
            x = np.clip(alpha, -1.0, 1.0) * STD_MULTIPLIER * self.stds[c] + self.means[c]
        elif self.transform == "standard":
            x = alpha * self.stds[0] + self.means[0]
        else:
            x = (np.clip(alpha, -1.0, 1.0) + 1.0) * 0.5 * (self.hi - self.lo) + self.lo
        x = np.clip(x, self.lo, self.hi)
        out: F64 = np.round(x) if self.round else x
        return out


def document(codec: Codec) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(codec.to_json())
    return doc


def entry_of(codec: Codec, name: str) -> Entry:
    raw = next(c for c in document(codec)["columns"] if c["name"] == name)
    modes = raw["modes"]
    return Entry(
        name=name,
        dtype=raw["dtype"],
        transform=raw["transform"],
        weights=np.array([m["weight"] for m in modes], dtype=np.float64),
        means=np.array([m["mean"] for m in modes], dtype=np.float64),
        stds=np.array([m["std"] for m in modes], dtype=np.float64),
        lo=float(raw["range"][0]),
        hi=float(raw["range"][1]),
        round=bool(raw["round"]),
        null_indicator=bool(raw["null_indicator"]),
    )


def physical(s: pl.Series) -> F64:
    """A numeric, date or time column's physical values as float64 (null: NaN)."""
    out: F64 = s.to_physical().cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return out


def feature_matrix(codec: Codec, encoded: pl.DataFrame, layout: str) -> F64:
    """The N x D features of any layout, in ``feature_names`` order."""
    if layout == "matrix":
        out: F64 = np.asarray(encoded["features"].to_numpy(), dtype=np.float64)
        return out
    if layout == "flat":
        return np.asarray(encoded.select(codec.feature_names).to_numpy(), dtype=np.float64)
    if layout == "struct":
        flat = encoded.select(codec.columns).unnest(codec.columns)
        return np.asarray(flat.select(codec.feature_names).to_numpy(), dtype=np.float64)
    parts = [np.asarray(encoded[c].to_numpy(), dtype=np.float64) for c in codec.columns]
    return np.hstack(parts)


def span_of(codec: Codec, column: str) -> tuple[int, int]:
    (start, stop) = next((a, b) for c, a, b, _ in codec.blocks if c == column)
    return start, stop


def argmax_with_ties(lp: F64, chosen: npt.NDArray[np.int64], tol: float = 1e-9) -> None:
    """`chosen` is, on every row, a mode whose log posterior is the largest (up to `tol`,
    so that rounding between two equal modes is no failure)."""
    best = lp.max(axis=1)
    got = lp[np.arange(len(lp)), chosen]
    bad = np.flatnonzero(got < best - tol * np.maximum(1.0, np.abs(best)))
    assert bad.size == 0, (bad[:5], lp[bad[:5]], chosen[bad[:5]])


def pooled_chisquare(observed: npt.NDArray[np.int64], p: F64) -> float:
    """The χ² p-value of `observed` against probabilities `p`, the cells of expected count
    below 5 pooled into one."""
    n = observed.sum()
    expected = p * n
    small = expected < 5
    obs = observed[~small].tolist()
    exp = expected[~small].tolist()
    if small.any():
        obs.append(int(observed[small].sum()))
        exp.append(float(expected[small].sum()))
    assert len(obs) >= 2, (observed, p)
    exp_a = np.array(exp)
    exp_a *= n / exp_a.sum()
    return float(stats.chisquare(np.array(obs), exp_a).pvalue)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def adult_codec(adult: pl.DataFrame) -> Codec:
    return Codec.fit(adult)


@pytest.fixture(scope="module")
def age_codec(adult: pl.DataFrame) -> Codec:
    return Codec.fit(adult.select("age"))


def bimodal(n: int = 4_000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, n // 2), rng.normal(5.0, 1.5, n - n // 2)])
    return pl.DataFrame({"x": rng.permutation(x)})


# --------------------------------------------------------------------------- the layout


def test_adult_numeric_columns_and_spans(
    adult: pl.DataFrame, adult_codec: Codec, kept_modes: Callable[..., int]
) -> None:
    """Every integer column is numeric by default; each is its scalar, then its modes,
    in the table's order; spans carry CTGAN's activations."""
    codec = adult_codec
    assert codec.columns == adult.columns
    names = codec.feature_names
    spans = {(s.column, s.start, s.stop): s.activation for s in codec.spans}
    for col in ADULT_NUMERIC:
        e = entry_of(codec, col)
        assert e.transform == "mode"
        assert not e.null_indicator
        assert e.round
        start, stop = span_of(codec, col)
        assert names[start:stop] == [f"{col}_normalized"] + [f"{col}_mode_{i}" for i in range(e.k)]
        assert spans[(col, start, start + 1)] == "tanh"
        assert spans[(col, start + 1, stop)] == "softmax"
        # The document's modes: weights above the threshold, summing to 1.
        assert e.k == kept_modes(adult[col])
        assert abs(e.weights.sum() - 1.0) < 1e-9
        assert (e.weights > MIN_WEIGHT).all(), e.weights
        assert (e.stds > 0).all()
        values = adult[col]
        assert [e.lo, e.hi] == [values.min(), values.max()]
    # Spans tile the features.
    ordered = sorted(codec.spans, key=lambda s: s.start)
    assert ordered[0].start == 0
    assert ordered[-1].stop == len(names)
    assert all(a.stop == b.start for a, b in zip(ordered, ordered[1:]))
    doc = document(codec)
    assert doc["version"] == 2


def test_numeric_selection(kept_modes: Callable[..., int]) -> None:
    df = pl.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, None, 2.5],
            "d": pl.Series([1, 2, 3], dtype=pl.Int32).cast(pl.Date),
            "t": pl.Series([1, 2, 3], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "u": pl.Series([1, 2, 3], dtype=pl.Int64).cast(pl.Duration("ms")),
            "b": [True, False, True],
            "s": ["a", "b", "a"],
        }
    )
    codec = Codec.fit(df, numeric="minmax")
    assert codec.columns == df.columns
    assert [s.activation for s in codec.spans if s.column == "f"] == ["tanh", "sigmoid"]
    assert [s.activation for s in codec.spans if s.column == "b"] == ["softmax"]
    # Integer columns named in `columns` are categorical.
    named = Codec.fit(df, columns=["i", "s"], numeric="standard")
    assert named.blocks[0] == ("i", 0, 3, ["1", "2", "3"])
    assert [s.activation for s in named.spans if s.column == "f"] == ["linear", "sigmoid"]
    # None passes numbers through; a mapping encodes only the columns it names.
    assert Codec.fit(df, numeric=None).columns == ["b", "s"]
    only = Codec.fit(df, numeric={"f": "mode", "u": "minmax"})
    assert only.columns == ["f", "u", "b", "s"]  # the table's order
    encoded = only.encode(df, dtype=pl.Float64)
    for passed in ("i", "d", "t"):
        assert_frame_equal(encoded.select(passed), df.select(passed))
    with pytest.raises(ValueError, match=r"'nope'"):
        Codec.fit(df, numeric={"nope": "mode"})
    with pytest.raises(ValueError, match=r"zscore"):
        Codec.fit(df, numeric="zscore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_modes"):
        Codec.fit(df, max_modes=0)
    assert entry_of(Codec.fit(bimodal(), max_modes=2), "x").k == kept_modes(bimodal()["x"], 2)


def test_standard_and_minmax_parameters(adult: pl.DataFrame) -> None:
    """``standard``: one mode, the mean and the population standard deviation;
    ``minmax``: no mode, the range."""
    codec = Codec.fit(adult.select(ADULT_NUMERIC), numeric="standard")
    for col in ADULT_NUMERIC:
        x = adult[col].cast(pl.Float64).to_numpy()
        e = entry_of(codec, col)
        assert e.transform == "standard"
        assert e.k == 0
        assert len(e.weights) == 1
        np.testing.assert_allclose(e.means[0], x.mean(), rtol=1e-12)
        np.testing.assert_allclose(e.stds[0], x.std(ddof=0), rtol=1e-9)
        assert e.weights[0] == 1.0
    codec = Codec.fit(adult.select(ADULT_NUMERIC), numeric="minmax")
    for col in ADULT_NUMERIC:
        e = entry_of(codec, col)
        assert e.transform == "minmax"
        assert len(e.weights) == 0
        assert [e.lo, e.hi] == [adult[col].min(), adult[col].max()]


# --------------------------------------------------------------------------- 1. the formula


@pytest.mark.parametrize("dtype", [pl.Float64, pl.Float32], ids=str)
def test_adult_argmax_encoding_is_the_formula(
    adult: pl.DataFrame, adult_codec: Codec, dtype: DType
) -> None:
    """Every scalar and mode indicator is the numpy recomputation from the document:
    the mode of largest ``w_c N(x | mu_c, sigma_c^2)``, the scalar
    ``clip((x - mu_c) / (4 sigma_c), -0.99, 0.99)``."""
    codec = adult_codec
    encoded = codec.encode(adult, dtype=dtype, method="argmax")
    assert all(encoded.schema[n] == dtype for n in codec.feature_names)
    atol = 1e-12 if dtype == pl.Float64 else 2.0**-23
    for col in ADULT_NUMERIC:
        e = entry_of(codec, col)
        x = adult[col].cast(pl.Float64).to_numpy()
        modes = encoded.select(f"{col}_mode_{i}" for i in range(e.k)).to_numpy()
        # One-hot rows.
        assert set(np.unique(modes).tolist()) <= {0.0, 1.0}
        assert (modes.sum(axis=1) == 1).all(), col
        chosen = modes.argmax(axis=1)
        lp = e.log_posterior(x)
        argmax_with_ties(lp, chosen)
        # Where the argmax is clear, it is numpy's.
        top2 = np.sort(lp, axis=1)[:, -2:] if e.k > 1 else None
        if top2 is not None:
            clear = top2[:, 1] - top2[:, 0] > 1e-6
            np.testing.assert_array_equal(chosen[clear], lp[clear].argmax(axis=1))
        scalar = encoded[f"{col}_normalized"].cast(pl.Float64).to_numpy()
        np.testing.assert_allclose(scalar, e.scalar(x, chosen), rtol=0, atol=atol, err_msg=col)


def _null_frame() -> pl.DataFrame:
    rng = np.random.default_rng(6)
    n = 400
    gaps = rng.random((3, n)) < 0.15
    m = np.where(rng.random(n) < 0.5, rng.normal(0, 1, n), rng.normal(8, 2, n))
    return pl.DataFrame(
        {
            "m": [None if g else float(v) for g, v in zip(gaps[0], m)],
            "s": [None if g else float(v) for g, v in zip(gaps[1], rng.normal(3, 2, n))],
            "r": [None if g else int(v) for g, v in zip(gaps[2], rng.integers(-9, 90, n))],
        }
    )


def test_nulls_encode_as_the_fitted_mean() -> None:
    """A null is the fitted mean (``sum w_c mu_c``; minmax: the middle of the range)
    encoded as any value, with its ``_null`` indicator 1."""
    df = _null_frame()
    codec = Codec.fit(df, numeric={"m": "mode", "s": "standard", "r": "minmax"})
    encoded = codec.encode(df, dtype=pl.Float64, method="argmax")
    for col in df.columns:
        e = entry_of(codec, col)
        assert e.null_indicator
        start, stop = span_of(codec, col)
        assert codec.feature_names[stop - 1] == f"{col}_null"
        block = encoded.select(codec.feature_names[start:stop]).to_numpy()
        null = df[col].is_null().to_numpy()
        np.testing.assert_array_equal(block[:, -1], null.astype(np.float64))
        x = np.where(null, e.fill(), physical(df[col]))
        if col == "m":
            assert e.fill() == pytest.approx(float((e.weights * e.means).sum()), rel=1e-15)
        elif col == "r":
            assert e.fill() == (e.lo + e.hi) / 2
        c = e.log_posterior(x).argmax(axis=1) if e.k else np.zeros(len(x), dtype=np.int64)
        if e.k:
            np.testing.assert_array_equal(block[:, 1 : 1 + e.k].argmax(axis=1)[null], c[null])
        np.testing.assert_allclose(block[:, 0], e.scalar(x, c), rtol=0, atol=1e-12)


def test_null_indicator_decodes_above_one_half() -> None:
    df = _null_frame()
    codec = Codec.fit(df, numeric={"m": "mode", "s": "standard", "r": "minmax"})
    indicator = [-3.0, 0.0, 0.4, 0.5, 0.500001, 0.9, 1.0, 7.0]
    raw = np.random.default_rng(2).normal(size=(len(indicator), codec.width))
    for col in df.columns:
        _, stop = span_of(codec, col)
        raw[:, stop - 1] = indicator
    decoded = codec.decode(raw)
    for col in df.columns:
        assert decoded[col].is_null().to_list() == [v > 0.5 for v in indicator], col


def test_nulls_unseen_at_fit_time_are_null_rows() -> None:
    """A column without a null indicator encodes a null as a null block, which decodes
    to null."""
    df = pl.DataFrame({"x": [1.0, 2.0, 3.0, 40.0, 41.0], "n": [1, 2, 3, 4, 5]})
    codec = Codec.fit(df)
    assert not any(name.endswith("_null") for name in codec.feature_names)
    new = pl.DataFrame({"x": [2.0, None], "n": [None, 3]})
    encoded = codec.encode(new, dtype=pl.Float64, method="argmax")
    for col in ("x", "n"):
        start, stop = span_of(codec, col)
        names = codec.feature_names[start:stop]
        nulls = encoded.select(pl.all_horizontal(pl.col(names).is_null())).to_series()
        assert nulls.to_list() == new[col].is_null().to_list(), col
    assert_frame_equal(codec.decode(encoded), new)


# --------------------------------------------------------------------------- 2. RDT


@dataclass(frozen=True)
class RdtFit:
    """RDT's ClusterBasedNormalizer fitted on a column: the transformer, its transform of
    the column (a pandas frame) and the (weights, means, stds) of its valid components,
    in RDT's order."""

    transformer: Any
    out: Any
    params: tuple[F64, F64, F64]


@pytest.fixture(scope="module")
def rdt_age(adult: pl.DataFrame) -> RdtFit:
    """RDT fitted on Adult's ``age`` (read attributes: ``_bgm_transformer`` (scikit-learn's
    ``BayesianGaussianMixture``: ``weights_``, ``means_``, ``covariances_``) and
    ``valid_component_indicator``, as rdt 1.19's ``numerical.py`` names them)."""
    numerical = pytest.importorskip("rdt.transformers.numerical")
    column = "age"
    frame = adult.select(column).to_pandas()
    transformer = numerical.ClusterBasedNormalizer(
        max_clusters=10, weight_threshold=MIN_WEIGHT, enforce_min_max_values=True
    )
    np.random.seed(0)  # noqa: NPY002 (RDT draws each row's component with numpy's global generator)
    transformer.fit(frame, column)
    out = transformer.transform(frame)
    bgm = transformer._bgm_transformer
    valid = np.asarray(transformer.valid_component_indicator, dtype=bool)
    params = (
        np.asarray(bgm.weights_, dtype=np.float64)[valid],
        np.asarray(bgm.means_, dtype=np.float64).reshape(-1)[valid],
        np.sqrt(np.asarray(bgm.covariances_, dtype=np.float64).reshape(-1))[valid],
    )
    return RdtFit(transformer, out, params)


def test_rdt_transform_is_the_same_formula(adult: pl.DataFrame, rdt_age: RdtFit) -> None:
    """RDT's own output: ``clip((x - means[c]) / (4 stds[c]), -.99, .99)`` with its
    fitted components, the formula our codec implements."""
    out = rdt_age.out.copy()
    _, means, stds = rdt_age.params
    x = adult["age"].cast(pl.Float64).to_numpy()
    c = out["age.component"].to_numpy().astype(np.int64)
    normalized = out["age.normalized"].to_numpy()
    assert c.min() >= 0
    assert c.max() < len(means)
    want = np.clip((x - means[c]) / (STD_MULTIPLIER * stds[c]), -CLIP, CLIP)
    np.testing.assert_allclose(normalized, want, rtol=1e-12, atol=1e-15)


def _codec_with_modes(base: Codec, column: str, params: tuple[F64, F64, F64]) -> Codec:
    doc = document(base)
    entry = next(c for c in doc["columns"] if c["name"] == column)
    weights, means, stds = params
    total = float(weights.sum())
    entry["modes"] = [
        {"weight": float(w) / total, "mean": float(m), "std": float(s)}
        for w, m, s in zip(weights, means, stds)
    ]
    return Codec.from_json(json.dumps(doc))


def test_rdt_modes_in_our_codec(adult: pl.DataFrame, age_codec: Codec, rdt_age: RdtFit) -> None:
    """Our codec holding RDT's fitted modes decodes RDT's output to RDT's
    ``reverse_transform``, and encodes as RDT does wherever both pick the same mode
    (RDT samples its mode; ours is the argmax)."""
    transformer, out, params = rdt_age.transformer, rdt_age.out.copy(), rdt_age.params
    codec = _codec_with_modes(age_codec, "age", params)
    e = entry_of(codec, "age")
    assert e.k == len(params[0])
    c = out["age.component"].to_numpy().astype(np.int64)
    rdt_frame = pl.DataFrame(
        {"age_normalized": out["age.normalized"].to_numpy()}
        | {f"age_mode_{i}": (c == i).astype(np.float64) for i in range(e.k)}
    )
    ours = codec.decode(rdt_frame)["age"].to_numpy()
    theirs = transformer.reverse_transform(out.copy())["age"].to_numpy()
    np.testing.assert_array_equal(ours, theirs)
    # Encoding.
    encoded = codec.encode(adult.select("age"), dtype=pl.Float64, method="argmax")
    mine = encoded.select(f"age_mode_{i}" for i in range(e.k)).to_numpy().argmax(axis=1)
    same = mine == c
    assert same.mean() > 0.5, same.mean()
    np.testing.assert_allclose(
        encoded["age_normalized"].to_numpy()[same],
        out["age.normalized"].to_numpy()[same],
        rtol=1e-12,
        atol=1e-15,
    )


# --------------------------------------------------------------------------- 3. χ²

N_DRAWS = 100_000


def _uncertain_value(e: Entry, candidates: F64) -> float:
    """The candidate whose second most probable mode is the most probable."""
    lp = e.log_posterior(candidates)
    p = np.exp(lp - lp.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    second = np.sort(p, axis=1)[:, -2]
    return float(candidates[second.argmax()])


@pytest.mark.parametrize("keyed", [False, True], ids=["positional", "keyed"])
@pytest.mark.parametrize("dtype", [pl.Float64, pl.Float32], ids=str)
@pytest.mark.parametrize("source", ["bimodal", "age"])
def test_sampled_modes_follow_the_posterior(
    age_codec: Codec, source: str, dtype: DType, keyed: bool
) -> None:
    if source == "age":
        codec, col = age_codec, "age"
        e = entry_of(codec, col)
        x = _uncertain_value(e, np.arange(e.lo, e.hi + 1.0))
        frame = pl.DataFrame({col: [int(x)] * N_DRAWS})
    else:
        codec, col = Codec.fit(bimodal()), "x"
        e = entry_of(codec, col)
        x = _uncertain_value(e, np.linspace(e.lo, e.hi, 2_001))
        frame = pl.DataFrame({col: [x] * N_DRAWS})
    p = e.posterior(x)
    assert np.sort(p)[-2] > 0.05, p  # two modes have real probability
    key = None
    if keyed:
        ids = np.random.default_rng(5).permutation(N_DRAWS) * 7 + 3
        frame = frame.with_columns(pl.Series("id", ids))
        key = "id"
    encoded = codec.encode(frame, dtype=dtype, method="sample", seed=20240601, key=key)
    modes = encoded.select(f"{col}_mode_{i}" for i in range(e.k)).to_numpy()
    assert (modes.sum(axis=1) == 1).all()
    chosen = modes.argmax(axis=1)
    observed = np.bincount(chosen, minlength=e.k).astype(np.int64)
    assert pooled_chisquare(observed, p) > ALPHA, (observed, p * N_DRAWS)
    # Each row's scalar is the formula's in the mode it drew.
    scalar = encoded[f"{col}_normalized"].cast(pl.Float64).to_numpy()
    atol = 1e-12 if dtype == pl.Float64 else 2.0**-23
    np.testing.assert_allclose(scalar, e.scalar(np.full(N_DRAWS, x), chosen), atol=atol)
    # Another seed draws otherwise.
    other = codec.encode(frame.head(2_000), dtype=dtype, method="sample", seed=7, key=key)
    other_modes = other.select(f"{col}_mode_{i}" for i in range(e.k)).to_numpy().argmax(axis=1)
    assert (other_modes != chosen[:2_000]).any()


# --------------------------------------------------------------------------- 4. round trip

INT_KINDS = {
    "Int8": (pl.Int8, -(2**7), 2**7 - 1),
    "Int16": (pl.Int16, -(2**15), 2**15 - 1),
    "Int32": (pl.Int32, -(2**31), 2**31 - 1),
    "Int64": (pl.Int64, -(2**50), 2**50),
    "UInt8": (pl.UInt8, 0, 2**8 - 1),
    "UInt16": (pl.UInt16, 0, 2**16 - 1),
    "UInt32": (pl.UInt32, 0, 2**32 - 1),
    "UInt64": (pl.UInt64, 0, 2**50),
}
# Dates and times as their physical integers (within 2**52: every value and every
# step of the arithmetic is exact enough in float64 to come back).
TEMPORAL_KINDS: dict[str, tuple[Any, int]] = {
    "Date": (pl.Date, 60_000),
    "Datetime[us]": (pl.Datetime("us"), 2**51),
    "Datetime[us, UTC]": (pl.Datetime("us", "UTC"), 2**51),
    "Datetime[ms, Asia/Kolkata]": (pl.Datetime("ms", "Asia/Kolkata"), 2**42),
    "Duration[us]": (pl.Duration("us"), 2**45),
    "Duration[ns]": (pl.Duration("ns"), 2**50),
}
TRANSFORMS = ("mode", "standard", "minmax")


@dataclass(frozen=True)
class Table:
    """A table to round-trip: each column's kind and physical values (None: null)."""

    columns: tuple[tuple[str, str, tuple[Any, ...]], ...]
    transforms: tuple[str, ...]
    layout: str
    method: str
    seed: int

    def frame(self) -> pl.DataFrame:
        series = []
        for name, kind, values in self.columns:
            if kind in INT_KINDS:
                series.append(pl.Series(name, list(values), dtype=INT_KINDS[kind][0]))
            elif kind in ("Float32", "Float64"):
                series.append(pl.Series(name, list(values), dtype=getattr(pl, kind)))
            else:
                dtype = TEMPORAL_KINDS[kind][0]
                ints = pl.Series(name, list(values), dtype=pl.Int64)
                if dtype == pl.Date:
                    series.append(ints.cast(pl.Int32).cast(pl.Date))
                else:
                    series.append(ints.cast(dtype))
        return pl.DataFrame(series)


def _values(n: int, value: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    """`n` values, some of them null, at least one not."""
    cell = st.one_of(st.none(), value, value, value)
    return (
        st.lists(cell, min_size=n, max_size=n)
        .filter(lambda v: any(x is not None for x in v))
        .map(tuple)
    )


@st.composite
def tables(draw: st.DrawFn) -> Table:
    n = draw(st.integers(1, 14))
    kind_i = draw(st.sampled_from(sorted(INT_KINDS)))
    _, lo, hi = INT_KINDS[kind_i]
    kind_f = draw(st.sampled_from(["Float32", "Float64"]))
    width: Literal[32, 64] = 32 if kind_f == "Float32" else 64
    big = 2.0**100 if kind_f == "Float32" else 2.0**40  # exact in either width
    floats = st.floats(
        min_value=-big, max_value=big, allow_nan=False, allow_subnormal=False, width=width
    )
    kind_t = draw(st.sampled_from(sorted(TEMPORAL_KINDS)))
    bound = TEMPORAL_KINDS[kind_t][1]
    columns = (
        ("i", kind_i, draw(_values(n, st.integers(lo, hi)))),
        ("f", kind_f, draw(_values(n, floats))),
        ("t", kind_t, draw(_values(n, st.integers(-bound, bound)))),
    )
    return Table(
        columns=columns,
        transforms=tuple(draw(st.sampled_from(TRANSFORMS)) for _ in columns),
        layout=draw(st.sampled_from(LAYOUTS)),
        method=draw(st.sampled_from(["argmax", "sample"])),
        seed=draw(st.integers(0, 2**64 - 1)),
    )


def check_round_trip(table: Table) -> None:
    df = table.frame()
    numeric = {name: t for (name, _, _), t in zip(table.columns, table.transforms)}
    codec = Codec.fit(df, numeric=numeric)  # type: ignore[arg-type]
    layout: EncodeLayout = table.layout  # type: ignore[assignment]
    encoded = codec.encode(
        df,
        layout=layout,
        dtype=pl.Float64,
        method=table.method,  # type: ignore[arg-type]
        seed=table.seed,
    )
    decoded = codec.decode(encoded)
    assert decoded.schema == df.schema, (decoded.schema, df.schema)
    features = feature_matrix(codec, encoded, layout)
    assert features.shape == (df.height, codec.width)
    for name, kind, _ in table.columns:
        e = entry_of(codec, name)
        x = physical(df[name])
        got = physical(decoded[name])
        valid = ~np.isnan(x)
        # The document: the range seen, the nulls seen, rounding for whole numbers.
        assert [e.lo, e.hi] == [x[valid].min(), x[valid].max()], (name, e)
        assert e.null_indicator == (not valid.all())
        assert e.round == (kind not in ("Float32", "Float64"))
        # Nulls come back as nulls, and only they.
        np.testing.assert_array_equal(np.isnan(got), ~valid, err_msg=name)
        assert ((got[valid] >= e.lo) & (got[valid] <= e.hi)).all(), (name, got, e)
        start, stop = span_of(codec, name)
        block = features[:, start:stop]
        alpha = block[:, 0]
        if e.null_indicator:
            np.testing.assert_array_equal(block[:, -1], (~valid).astype(np.float64))
        c = np.zeros(df.height, dtype=np.int64)
        if e.k:
            modes = block[:, 1 : 1 + e.k]
            assert (modes.sum(axis=1) == 1).all()
            c = modes.argmax(axis=1)
        clipped = np.abs(alpha) >= CLIP if e.transform == "mode" else np.zeros_like(valid)
        exact = valid & ~clipped
        if e.round:
            np.testing.assert_array_equal(got[exact], x[exact], err_msg=name)
        else:
            scale = max(abs(e.lo), abs(e.hi), e.hi - e.lo)
            np.testing.assert_allclose(
                got[exact], x[exact], rtol=1e-9, atol=1e-9 * scale, err_msg=name
            )
        # A clipped scalar decodes by the formula, inside the range.
        lossy = valid & clipped
        np.testing.assert_allclose(
            got[lossy], e.value(alpha[lossy], c[lossy]), rtol=1e-12, err_msg=name
        )
        if table.method == "argmax" and e.k > 1:
            argmax_with_ties(e.log_posterior(np.where(valid, x, e.fill())), c)


def _table(
    i: tuple[str, tuple[Any, ...]],
    f: tuple[str, tuple[Any, ...]],
    t: tuple[str, tuple[Any, ...]],
    transforms: tuple[str, str, str] = ("mode", "mode", "mode"),
    layout: str = "flat",
    method: str = "argmax",
) -> Table:
    return Table((("i", *i), ("f", *f), ("t", *t)), transforms, layout, method, 1)


ONE_ROW = _table(("Int64", (5,)), ("Float64", (-2.5,)), ("Date", (100,)))
CONSTANT = _table(
    ("UInt16", (7, 7, 7)),
    ("Float64", (0.1, 0.1, 0.1)),
    ("Datetime[us, UTC]", (1_700_000_000_000_000,) * 3),
    ("mode", "standard", "minmax"),
    "struct",
    "sample",
)
NULLS = _table(
    ("Int32", (1, None, 3, None, 1000)),
    ("Float32", (None, 2.0, -1.0, None, 0.5)),
    ("Duration[us]", (None, 5, 6, 7, -(10**12))),
    ("mode", "minmax", "standard"),
    "array",
    "sample",
)
NEGATIVE = _table(
    ("Int8", (-128, -5, -100, 127, -128)),
    ("Float64", (-1e6, -3.25, -0.001, -7.5, -1e6)),
    ("Datetime[us]", (-(10**15), -5, -(2**40), -(10**12), -1)),
    ("mode", "mode", "mode"),
    "matrix",
    "argmax",
)
BIMODAL = _table(
    ("Int64", (-50, -49, -51, -48, 100, 101, 99, 102, -50, 100)),
    ("Float64", (0.0, 0.1, -0.1, 0.05, 40.0, 40.5, 39.5, 40.2, 0.02, 40.1)),
    ("Datetime[ms, Asia/Kolkata]", (0, 1, 2, 3, 10**12, 10**12 + 1, 10**12 + 2, 10**12 + 3, 5, 6)),
    ("mode", "mode", "mode"),
    "matrix",
    "sample",
)

# Two values whose spread squares to nothing (below about 1e-154): one mode, but not of
# standard deviation 0, which would decode both to their mean.
TINY_SPREAD = _table(
    ("Int16", (None, None, None, None, 0)),
    ("Float64", (None, None, None, 0.0, 4.2242504986520894e-303)),
    ("Date", (None, None, None, None, 0)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(TINY_SPREAD)
@example(ONE_ROW)
@example(CONSTANT)
@example(NULLS)
@example(NEGATIVE)
@example(BIMODAL)
@given(tables())
def test_round_trip_property(table: Table) -> None:
    check_round_trip(table)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("method", METHODS)
def test_adult_round_trip(
    adult: pl.DataFrame, adult_codec: Codec, layout: EncodeLayout, method: DecodeMethod
) -> None:
    """Adult's integer columns come back exactly wherever no scalar was clipped (by the
    formula where one was), and the categorical columns everywhere."""
    codec = adult_codec
    encoded = codec.encode(adult, layout=layout, dtype=pl.Float64, method=method, seed=11)
    decoded = codec.decode(encoded)
    assert decoded.schema == adult.schema
    features = feature_matrix(codec, encoded, layout)
    clipped = np.zeros(adult.height, dtype=bool)
    for col in ADULT_NUMERIC:
        e = entry_of(codec, col)
        start, stop = span_of(codec, col)
        alpha = features[:, start]
        mine = np.abs(alpha) >= CLIP
        c = features[:, start + 1 : stop].argmax(axis=1)
        got = physical(decoded[col])
        np.testing.assert_array_equal(got[mine], e.value(alpha[mine], c[mine]), err_msg=col)
        clipped |= mine
    # So that the exact comparison covers most rows.
    assert clipped.mean() < 0.1, clipped.mean()
    keep = pl.Series(~clipped)
    assert_frame_equal(decoded.filter(keep), adult.filter(keep))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_time_zone_comes_back(layout: EncodeLayout) -> None:
    """Datetime columns with a time zone decode to the same dtype, eager and lazy (the
    schema a plan announces is the schema of its result)."""
    ints = pl.Series([0, 10**12, 5 * 10**12, 2 * 10**12, 10**12 + 7], dtype=pl.Int64)
    df = pl.DataFrame(
        {
            "utc": ints.cast(pl.Datetime("us", "UTC")),
            "kolkata": ints.cast(pl.Datetime("ms", "Asia/Kolkata")),
            "naive": ints.cast(pl.Datetime("ns")),
        }
    )
    codec = Codec.fit(df, numeric="minmax")
    assert entry_of(codec, "utc").dtype == {"datetime": {"unit": "us", "zone": "UTC"}}
    encoded = codec.encode(df, layout=layout, dtype=pl.Float64)
    assert_frame_equal(codec.decode(encoded), df)
    lazy = codec.decode(codec.encode(df.lazy(), layout=layout, dtype=pl.Float64))
    assert lazy.collect_schema() == df.schema
    assert_frame_equal(lazy.collect(), df)


# --------------------------------------------------------------------------- 5. KS


@pytest.mark.parametrize("seed", [3, 2024])
def test_sampled_decode_reproduces_the_distribution(
    adult: pl.DataFrame, age_codec: Codec, seed: int
) -> None:
    encoded = age_codec.encode(adult.select("age"), method="sample", seed=seed)
    decoded = age_codec.decode(encoded, method="sample", tau=0.1, seed=seed + 1)
    assert decoded.schema == pl.Schema({"age": pl.Int64})
    got = decoded["age"].to_numpy()
    e = entry_of(age_codec, "age")
    assert got.min() >= e.lo
    assert got.max() <= e.hi
    assert stats.ks_2samp(got, adult["age"].to_numpy()).pvalue > ALPHA


# --------------------------------------------------------------------------- 6. reproducibility


def _with_id(adult: pl.DataFrame, n: int) -> pl.DataFrame:
    ids = np.random.default_rng(9).permutation(10 * n)[:n].astype(np.int64)
    return adult.head(n).with_columns(pl.Series("id", ids))


def _chunked(df: pl.DataFrame) -> pl.DataFrame:
    a, b = df.height // 3, 2 * df.height // 3
    out = pl.concat([df.slice(0, a), df.slice(a, b - a), df.slice(b)], rechunk=False)
    assert out.n_chunks() == 3
    return out


@pytest.mark.parametrize("key", [None, "id"])
def test_seeded_encode_is_reproducible(
    adult: pl.DataFrame, adult_codec: Codec, key: str | None
) -> None:
    codec = adult_codec
    df = _with_id(adult, 6_000)
    whole = codec.encode(df, dtype=pl.Float64, method="sample", seed=77, key=key)
    assert whole.columns[-1] == "id"
    assert_frame_equal(codec.encode(df, dtype=pl.Float64, seed=77, key=key), whole)
    chunked = _chunked(df)
    assert_frame_equal(
        codec.encode(chunked, dtype=pl.Float64, seed=77, key=key), whole, check_exact=True
    )
    for engine in ENGINES:
        lazy = codec.encode(chunked.lazy(), dtype=pl.Float64, seed=77, key=key)
        assert_frame_equal(lazy.collect(engine=engine), whole, check_exact=True)
    matrix = codec.encode(df, layout="matrix", dtype=pl.Float64, seed=77, key=key)
    np.testing.assert_array_equal(
        matrix["features"].to_numpy(), whole.select(codec.feature_names).to_numpy()
    )
    for layout in BLOCK_LAYOUTS:
        blocks = codec.encode(df, layout=layout, dtype=pl.Float64, seed=77, key=key)
        np.testing.assert_array_equal(
            feature_matrix(codec, blocks, layout), whole.select(codec.feature_names).to_numpy()
        )
    # The draw is a function of the row's key: any subset of rows draws as in the whole.
    if key is not None:
        rows = np.sort(np.random.default_rng(1).choice(df.height, 700, replace=False))
        part = codec.encode(df[rows], dtype=pl.Float64, seed=77, key=key)
        assert_frame_equal(part, whole[rows], check_exact=True)
    # Another seed draws other modes.
    other = codec.encode(df, dtype=pl.Float64, seed=78, key=key)
    assert not other.equals(whole)


@pytest.mark.parametrize("key", [None, "id"])
def test_seeded_decode_is_reproducible(
    adult: pl.DataFrame, adult_codec: Codec, key: str | None
) -> None:
    codec = adult_codec
    n = 6_000
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(n, codec.width))
    ids = _with_id(adult, n)["id"]
    flat = pl.DataFrame({name: logits[:, j] for j, name in enumerate(codec.feature_names)})
    flat = flat.with_columns(ids)
    whole = codec.decode(flat, method="sample", tau=0.7, seed=5, key=key)
    assert whole.select(codec.columns).schema == adult.schema
    chunked = _chunked(flat)
    assert_frame_equal(codec.decode(chunked, method="sample", tau=0.7, seed=5, key=key), whole)
    for engine in ENGINES:
        lazy = codec.decode(chunked.lazy(), method="sample", tau=0.7, seed=5, key=key)
        assert_frame_equal(lazy.collect(engine=engine), whole)
    matrix = pl.DataFrame({"features": logits}).with_columns(ids)
    from_matrix = codec.decode(matrix, method="sample", tau=0.7, seed=5, key=key)
    assert_frame_equal(from_matrix.select(codec.columns), whole.select(codec.columns))
    if key is None:
        from_array = codec.decode(logits, method="sample", tau=0.7, seed=5)
        assert_frame_equal(from_array.select(codec.columns), whole.select(codec.columns))
    else:
        rows = np.sort(np.random.default_rng(2).choice(n, 500, replace=False))
        part = codec.decode(flat[rows], method="sample", tau=0.7, seed=5, key=key)
        assert_frame_equal(part, whole[rows])
    # Decoded numbers are the formula's in the drawn mode, so another seed differs.
    other = codec.decode(flat, method="sample", tau=0.7, seed=6, key=key)
    assert not other.equals(whole)


@pytest.mark.parametrize("form", ["matrix", "flat", "struct"])
def test_decode_argmax_is_the_formula(adult_codec: Codec, form: str) -> None:
    """``x = clip(alpha, -1, 1) 4 sigma_c + mu_c`` with ``c`` the argmax of the mode
    block, clipped to the range and rounded, from raw generator scores, in every form
    a generator's output comes in; scalars beyond [-1, 1] and infinite ones are
    clipped, NaN ones decode to null."""
    codec = adult_codec
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=2.0, size=(3_001, codec.width))
    for col in ADULT_NUMERIC:
        start, _ = span_of(codec, col)
        rows = rng.choice(len(logits), 40, replace=False)
        logits[rows, start] = np.resize([np.inf, -np.inf, np.nan, 7.5, -1e308], 40)
    flat = pl.DataFrame({name: logits[:, j] for j, name in enumerate(codec.feature_names)})
    if form == "matrix":
        decoded = codec.decode(logits)
    elif form == "flat":
        decoded = codec.decode(flat)
    else:
        blocks = {}
        for name in codec.columns:
            start, stop = span_of(codec, name)
            blocks[name] = pl.struct(codec.feature_names[start:stop])
        decoded = codec.decode(flat.select(**blocks))
    for col in ADULT_NUMERIC:
        e = entry_of(codec, col)
        start, stop = span_of(codec, col)
        c = logits[:, start + 1 : stop].argmax(axis=1)
        alpha = logits[:, start]
        want = np.where(np.isnan(alpha), np.nan, e.value(np.nan_to_num(alpha), c))
        np.testing.assert_array_equal(physical(decoded[col]), want, err_msg=col)


# --------------------------------------------------------------------------- 7. gumbel_softmax


def _activation_frame() -> pl.DataFrame:
    """A categorical column, a bimodal float with nulls, a float and an int with nulls."""
    rng = np.random.default_rng(8)
    n = 3_000
    m = rng.normal(size=n) + 5.0 * (rng.random(n) < 0.4)
    r = rng.integers(0, 50, n)
    return pl.DataFrame(
        {
            "c": rng.choice(["a", "b", "c"], n),
            "m": [None if u < 0.1 else float(v) for u, v in zip(rng.random(n), m)],
            "s": rng.normal(10.0, 3.0, n),
            "r": [None if u < 0.05 else int(v) for u, v in zip(rng.random(n), r)],
        }
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gumbel_softmax_activations(dtype: type[np.floating[Any]]) -> None:
    df = _activation_frame()
    codec = Codec.fit(df, numeric={"m": "mode", "s": "standard", "r": "minmax"})
    activations = sorted({s.activation for s in codec.spans})
    assert activations == ["linear", "sigmoid", "softmax", "tanh"]
    raw = np.random.default_rng(1).normal(scale=3.0, size=(2_000, codec.width)).astype(dtype)
    flat = pl.DataFrame({name: raw[:, j] for j, name in enumerate(codec.feature_names)})
    out = codec.gumbel_softmax(flat, seed=5)
    assert out.columns == flat.columns
    got = out.to_numpy()
    assert got.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    wide = raw.astype(np.float64)
    for span in codec.spans:
        a, b = span.start, span.stop
        if span.activation == "tanh":
            np.testing.assert_allclose(got[:, a:b], np.tanh(wide[:, a:b]), rtol=rtol, atol=rtol)
        elif span.activation == "sigmoid":
            want = 1.0 / (1.0 + np.exp(-wide[:, a:b]))
            np.testing.assert_allclose(got[:, a:b], want, rtol=rtol, atol=rtol)
        elif span.activation == "linear":
            np.testing.assert_array_equal(got[:, a:b], raw[:, a:b])
        else:
            block = got[:, a:b].astype(np.float64)
            assert ((block >= 0) & (block <= 1)).all()
            np.testing.assert_allclose(block.sum(axis=1), 1.0, rtol=0, atol=10 * rtol)
    # The matrix (a 2-D array, or a matrix column) relaxes to the same bits.
    np.testing.assert_array_equal(codec.gumbel_softmax(raw, seed=5), got)
    relaxed = codec.gumbel_softmax(pl.DataFrame({"features": raw}), seed=5)
    np.testing.assert_array_equal(relaxed["features"].to_numpy(), got)
    # hard=True: one-hot blocks, the other spans as before.
    hard = codec.gumbel_softmax(flat, seed=5, hard=True).to_numpy()
    for span in codec.spans:
        a, b = span.start, span.stop
        if span.activation == "softmax":
            assert set(np.unique(hard[:, a:b]).tolist()) <= {0.0, 1.0}
            assert (hard[:, a:b].sum(axis=1) == 1).all()
        else:
            np.testing.assert_array_equal(hard[:, a:b], got[:, a:b])


def test_hard_relaxation_picks_the_sampled_decode_mode() -> None:
    """At tau=1 the argmax of a hard relaxed mode block is the mode a sampled decode
    draws with the same seed and key (stated for categorical blocks, and a mode block
    is decoded "exactly as a categorical block is")."""
    df = _activation_frame()
    codec = Codec.fit(df, numeric={"m": "mode", "s": "standard", "r": "minmax"})
    raw = np.random.default_rng(2).normal(size=(2_000, codec.width))
    hard = codec.gumbel_softmax(raw, seed=9, hard=True)
    decoded = codec.decode(raw, method="sample", seed=9)
    e = entry_of(codec, "m")
    start, stop = span_of(codec, "m")
    c = hard[:, start + 1 : stop - 1].argmax(axis=1)
    want = e.value(raw[:, start], c)
    want[raw[:, stop - 1] > 0.5] = np.nan
    np.testing.assert_array_equal(physical(decoded["m"]), want)
    cat_start, cat_stop = span_of(codec, "c")
    labels = np.array(codec.blocks[0][3])
    assert decoded["c"].to_list() == labels[hard[:, cat_start:cat_stop].argmax(axis=1)].tolist()


# --------------------------------------------------------------------------- 8. hostile

HOSTILE_TIMEOUT = 300
NOT_CLEAR = ("panicked", "internal error", "PanicException", "Traceback")

PRELUDE = r'''
import json, math, sys, time
import numpy as np
import polars as pl
from polars_gumbel import Codec

ERRORS = (pl.exceptions.PolarsError, ValueError, TypeError)
NOT_CLEAR = ("panicked", "internal error", "PanicException", "Traceback")


def clear(exc, *needles):
    message = str(exc)
    for bad in NOT_CLEAR:
        assert bad not in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def error(f, *needles):
    """`f` raises one clear error with every needle in its message."""
    try:
        f()
    except ERRORS as exc:
        return clear(exc, *needles)
    raise AssertionError("expected an error, got a value")


def value_or_error(f, column):
    """`f`'s value, or None after one clear error naming `column`."""
    try:
        return f()
    except ERRORS as exc:
        clear(exc, f"'{column}'")
        print(f"@@error {type(exc).__name__}: {exc}")
        return None


def round_trip(df, column, **fit):
    """Fit, encode (Float64, argmax) and decode `df`, or None after a clear error naming
    `column`; a result must be finite features and values inside the fitted range."""
    codec = value_or_error(lambda: Codec.fit(df, **fit), column)
    if codec is None:
        return None
    entry = next(c for c in json.loads(codec.to_json())["columns"] if c["name"] == column)
    for m in entry["modes"]:
        assert all(math.isfinite(m[k]) for k in ("weight", "mean", "std")), entry
    enc = value_or_error(lambda: codec.encode(df, dtype=pl.Float64, method="argmax"), column)
    if enc is None:
        return None
    feats = enc.select(codec.feature_names).to_numpy()
    assert np.isfinite(feats).all(), feats
    dec = value_or_error(lambda: codec.decode(enc), column)
    if dec is None:
        return None
    assert dec.schema[column] == df.schema[column], (dec.schema, df.schema)
    assert dec[column].null_count() == df[column].null_count(), (dec, df)
    lo, hi = entry["range"]
    got = dec[column].to_physical().cast(pl.Float64).drop_nulls().to_numpy()
    assert not np.isnan(got).any(), got
    assert ((got >= lo) & (got <= hi)).all(), (got, lo, hi)
    return codec, enc, dec
'''


HOSTILE: dict[str, str] = {}
for _label, _value in (("nan", "float('nan')"), ("inf", "float('inf')"), ("-inf", "-float('inf')")):
    HOSTILE[f"fit-{_label}"] = f"""
        df = pl.DataFrame({{"x": [1.0, {_value}, 2.0, None]}})
        error(lambda: Codec.fit(df), "'x'")
        """
    HOSTILE[f"encode-{_label}"] = f"""
        codec = Codec.fit(pl.DataFrame({{"x": [1.0, 2.0, 3.0]}}))
        bad = pl.DataFrame({{"x": [1.0, {_value}]}})
        error(lambda: codec.encode(bad), "'x'")
        error(lambda: codec.encode(bad.lazy(), layout="matrix").collect(), "'x'")
        """
    HOSTILE[f"decode-scalar-{_label}"] = f"""
        df = pl.DataFrame({{"x": [1.0, 2.0, 3.0, 50.0, 51.0]}})
        codec = Codec.fit(df)
        enc = codec.encode(df, dtype=pl.Float64).with_columns(
            pl.when(pl.int_range(pl.len()) == 1).then({_value}).otherwise(pl.col("x_normalized"))
            .alias("x_normalized")
        )
        dec = codec.decode(enc)["x"]
        got = dec.drop_nulls().to_numpy()
        assert not np.isnan(got).any() and got.min() >= 1.0 and got.max() <= 51.0, dec
        if "{_label}" == "nan":
            assert dec.is_null().to_list() == [False, True, False, False, False], dec
        """
for _transform in ("mode", "standard", "minmax"):
    HOSTILE[f"huge-{_transform}"] = f"""
        df = pl.DataFrame({{"x": [1e308, -1e308, 0.0, 1e308, 5.0]}})
        round_trip(df, "x", numeric="{_transform}")
        """
    HOSTILE[f"constant-{_transform}"] = f"""
        df = pl.DataFrame({{"x": [2.5] * 7, "n": [-3] * 7}})
        codec, enc, dec = round_trip(df, "x", numeric="{_transform}")
        assert dec.equals(df), dec
        assert (enc["x_normalized"].to_numpy() == 0).all(), enc
        """
    HOSTILE[f"one-row-{_transform}"] = f"""
        df = pl.DataFrame({{"x": [-0.75], "n": [12]}})
        codec, enc, dec = round_trip(df, "x", numeric="{_transform}")
        assert dec.equals(df), dec
        """
HOSTILE["all-null-float"] = """
    df = pl.DataFrame({"x": [None, None, None]}, schema={"x": pl.Float64})
    error(lambda: Codec.fit(df), "'x'")
    """
HOSTILE["all-null-int-beside-others"] = """
    df = pl.DataFrame({"s": ["a", "b"], "x": [None, None]}, schema={"s": pl.String, "x": pl.Int64})
    error(lambda: Codec.fit(df), "'x'")
    """
HOSTILE["int64-extremes"] = """
    df = pl.DataFrame({"x": pl.Series([-(2**63), 2**63 - 1, 0, 5, -(2**63)], dtype=pl.Int64)})
    for transform in ("mode", "standard", "minmax"):
        out = round_trip(df, "x", numeric=transform)
        if out is not None:
            got = out[2]["x"].to_list()
            # Float64 holds these to 2**11: a value may move by that much, never wrap.
            for a, b in zip(got, df["x"].to_list()):
                assert abs(a - b) <= 2**11 or (abs(b) < 2**53 and a == b), (transform, got)
    """
HOSTILE["uint64-above-2**63"] = """
    df = pl.DataFrame({"x": pl.Series([0, 2**63 + 5, 2**64 - 1, 7], dtype=pl.UInt64)})
    for transform in ("mode", "standard", "minmax"):
        out = round_trip(df, "x", numeric=transform)
        if out is not None:
            got = out[2]["x"].to_list()
            for a, b in zip(got, df["x"].to_list()):
                assert abs(a - b) <= 2**12, (transform, got)
    """
HOSTILE["unsorted-dates"] = """
    import datetime as dt
    rng = np.random.default_rng(4)
    days = rng.integers(-30_000, 30_000, 500)
    df = pl.DataFrame({"d": pl.Series(days, dtype=pl.Int32).cast(pl.Date)})
    nth = pl.int_range(pl.len()) % 17 == 3
    df = df.with_columns(pl.when(nth).then(None).otherwise("d").alias("d"))
    codec, enc, dec = round_trip(df, "d")
    entry = json.loads(codec.to_json())["columns"][0]
    assert entry["range"] == [float(days.min()), float(days.max())] or entry["range"] == [
        int(days.min()), int(days.max())], entry["range"]
    alpha = enc["d_normalized"].to_numpy()
    keep = pl.Series(np.abs(alpha) < 0.99)
    assert dec.filter(keep).equals(df.filter(keep)), dec
    """
HOSTILE["million-distinct-floats"] = """
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 500_000), rng.normal(20, 3, 500_000)])
    df = pl.DataFrame({"x": x})
    assert df["x"].n_unique() == 1_000_000
    start = time.perf_counter()
    codec = Codec.fit(df)
    print(f"@@time fit of 10**6 distinct values: {time.perf_counter() - start:.1f} s")
    entry = json.loads(codec.to_json())["columns"][0]
    w = [m["weight"] for m in entry["modes"]]
    assert abs(sum(w) - 1) < 1e-9 and len(w) >= 2, entry
    """
HOSTILE["uint8-output-dtype"] = """
    df = pl.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "a"]})
    codec = Codec.fit(df)
    for layout in ("flat", "struct", "array", "matrix"):
        msg = error(lambda: codec.encode(df, layout=layout, dtype=pl.UInt8), "Float32", "Float64")
        assert "'x'" in msg, msg
        error(lambda: codec.encode(df, layout=layout, dtype=pl.Boolean), "Float32", "Float64")
    """
HOSTILE["encode-wrong-dtype"] = """
    codec = Codec.fit(pl.DataFrame({"x": [1.0, 2.0, 3.0]}))
    error(lambda: codec.encode(pl.DataFrame({"x": ["a", "b"]})), "'x'")
    """
HOSTILE["decode-wrong-width"] = """
    df = pl.DataFrame({"x": [1.0, 2.0, 30.0, 31.0]})
    codec = Codec.fit(df)
    enc = codec.encode(df, layout="array")
    bad = enc.with_columns(pl.col("x").arr.slice(0, 1).list.to_array(1))
    error(lambda: codec.decode(bad), "'x'")
    """


def _run_hostile(case: str) -> tuple[bool, str]:
    source = PRELUDE + "\n" + textwrap.dedent(HOSTILE[case]) + "\nprint('@@ok')\n"
    env = {**os.environ, "POLARS_MAX_THREADS": "2"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", source],
            capture_output=True,
            text=True,
            timeout=HOSTILE_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {HOSTILE_TIMEOUT} s"
    ok = done.returncode == 0 and "@@ok" in done.stdout
    return ok, f"exit code {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-4000:]}"


@pytest.fixture(scope="module")
def hostile_outcomes(request: pytest.FixtureRequest) -> dict[str, tuple[bool, str]]:
    selected = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("hostile_case") if callspec is not None else None
        if isinstance(case, str):
            selected.append(case)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(selected, pool.map(_run_hostile, selected)))


@pytest.mark.parametrize("hostile_case", sorted(HOSTILE))
def test_hostile(hostile_case: str, hostile_outcomes: dict[str, tuple[bool, str]]) -> None:
    ok, report = hostile_outcomes.get(hostile_case) or _run_hostile(hostile_case)
    for bad in ("panicked", "PanicException", "Fatal Python error"):
        assert bad not in report, report
    assert ok, report


# --------------------------------------------------------------------------- 9. the document


def test_version_1_fixture_still_reads(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...]
) -> None:
    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert raw["version"] == 1
    codec = Codec.load(FIXTURE)
    assert codec.columns == list(adult_categorical)
    assert all(s.activation == "softmax" for s in codec.spans)
    assert document(codec)["version"] == 2
    fresh = Codec.fit(adult, numeric=None)
    assert codec.feature_names == fresh.feature_names
    assert_frame_equal(codec.decode(codec.encode(adult)), adult)


def _numeric_codec() -> Codec:
    df = pl.DataFrame(
        {
            "m": [0.5, 1.5, None, 40.0, 41.0, 42.5, 0.7, 39.0],
            "s": [1, 2, 3, 4, 5, 6, 7, 8],
            "r": pl.Series([1, 5, None, 9, 2, 3, 3, 3], dtype=pl.Int16),
            "d": pl.Series([5, 1, 9, 3, 3, 2, 1, 1], dtype=pl.Int32).cast(pl.Date),
            "t": pl.Series([0, 5, 9, 1, 2, 3, 4, 5], dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
            "c": ["a", "b", "a", "a", "b", None, "a", "b"],
        }
    )
    return Codec.fit(
        df, numeric={"m": "mode", "s": "standard", "r": "minmax", "d": "mode", "t": "minmax"}
    )


def test_numeric_document_round_trips(tmp_path: Path) -> None:
    codec = _numeric_codec()
    text = codec.to_json()
    doc = json.loads(text)
    assert doc["version"] == 2
    by_name = {c["name"]: c for c in doc["columns"]}
    assert set(by_name["m"]) == {
        "name",
        "dtype",
        "transform",
        "modes",
        "range",
        "round",
        "null_indicator",
    }
    assert by_name["m"]["null_indicator"] is True
    assert by_name["m"]["round"] is False
    assert by_name["s"]["transform"] == "standard"
    assert len(by_name["s"]["modes"]) == 1
    assert by_name["r"]["modes"] == []
    assert by_name["r"]["range"] == [1, 9]
    assert by_name["d"]["round"] is True
    assert by_name["d"]["range"] == [1, 9]
    again = Codec.from_json(text)
    assert again == codec
    assert again.to_json() == text
    assert again.feature_names == codec.feature_names
    assert again.spans == codec.spans
    codec.save(tmp_path / "c.json")
    assert Codec.load(tmp_path / "c.json") == codec
    # A version-1 document cannot hold a numeric column.
    doc["version"] = 1
    with pytest.raises(ValueError, match=r"version"):
        Codec.from_json(json.dumps(doc))


def fit_numeric(*args: Any) -> tuple[str, Any]:
    """`_internal.fit_numeric`, which `_internal.pyi` does not declare (yet)."""
    function: Callable[..., tuple[str, Any]] = vars(_internal)["fit_numeric"]
    return function(*args)


def _same_entry(a: dict[str, Any], b: dict[str, Any], rtol: float = 1e-9) -> None:
    """Two numeric entries alike: equal fields, modes equal to `rtol`."""
    assert {k: v for k, v in a.items() if k != "modes"} == {
        k: v for k, v in b.items() if k != "modes"
    }
    assert len(a["modes"]) == len(b["modes"]), (a, b)
    for x, y in zip(a["modes"], b["modes"]):
        for key in ("weight", "mean", "std"):
            assert x[key] == pytest.approx(y[key], rel=rtol, abs=1e-300), (key, a, b)


def test_fit_numeric_is_the_fit() -> None:
    """`_internal.fit_numeric` is the fit `Codec.fit` makes, a pure function of the
    distinct values, their counts, the nulls, the options and the seed."""
    codec = _numeric_codec()
    entry = next(c for c in document(codec)["columns"] if c["name"] == "m")
    values = [0.5, 0.7, 1.5, 39.0, 40.0, 41.0, 42.5]
    counts = [1.0] * 7
    got, report = fit_numeric("m", json.dumps("float64"), values, counts, 1, "mode", 10, 0)
    # `Codec.fit` passes the distinct values in some order: the sums may differ in the
    # last bits.
    _same_entry(json.loads(got), entry)
    assert report is not None
    again, _ = fit_numeric("m", json.dumps("float64"), values, counts, 1, "mode", 10, 0)
    assert again == got
    std, none = fit_numeric("m", json.dumps("float64"), values, counts, 0, "standard", 10, 0)
    assert none is None
    mode = json.loads(std)["modes"][0]
    assert mode["mean"] == pytest.approx(np.mean(values), rel=1e-12)
    assert mode["std"] == pytest.approx(np.std(values), rel=1e-12)
    with pytest.raises(ValueError, match=r"'m'"):
        fit_numeric("m", json.dumps("float64"), [], [], 3, "mode", 10, 0)
    with pytest.raises(ValueError, match=r"transform|zscore"):
        fit_numeric("m", json.dumps("float64"), values, counts, 0, "zscore", 10, 0)


def test_fit_is_a_function_of_the_data(adult: pl.DataFrame) -> None:
    """``Codec.fit``: "a fit is a pure function of the data, the options and seed". The
    mixture sees distinct values and their counts, so neither the run, the engine, the
    chunks nor the order of the rows may change the document."""
    df = adult.select("age", "fnlwgt", "hours-per-week")
    first = Codec.fit(df).to_json()
    for _ in range(3):
        assert Codec.fit(df).to_json() == first
    assert Codec.fit(df.lazy()).to_json() == first
    assert Codec.fit(_chunked(df)).to_json() == first
    assert Codec.fit(df.reverse()).to_json() == first


def test_document_numbers_are_read_exactly() -> None:
    """A document's numbers are read as written (JSON's shortest round-trip decimal
    names one float64): the fitted range is the data's, and a document written by hand
    (or by another library's fit) holds the modes it says."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal(200) * 10.0 ** rng.integers(-300, 300, 200)
    values = np.append(values, [1.0910283513712615e30, 0.1, 1 / 3])
    fitted = Codec.fit(pl.DataFrame({"x": values}), numeric="minmax")
    assert entry_of(fitted, "x").lo == values.min()
    assert entry_of(fitted, "x").hi == values.max()
    doc = document(_numeric_codec())
    entry = next(c for c in doc["columns"] if c["name"] == "s")
    wrong = []
    for a, b in zip(values[::2], values[1::2]):
        entry["modes"] = [{"weight": 1.0, "mean": float(a), "std": abs(float(b))}]
        entry["range"] = [float(min(a, b)), float(max(a, b))]
        read = next(
            c for c in document(Codec.from_json(json.dumps(doc)))["columns"] if c["name"] == "s"
        )
        if read["modes"] != entry["modes"] or read["range"] != entry["range"]:
            wrong.append((entry["modes"], entry["range"], read["modes"], read["range"]))
    assert not wrong, (len(wrong), wrong[:2])


def _mutate_numeric(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        entry = next(c for c in doc["columns"] if c["name"] == name)
        entry[key] = value

    return mutate


def _mutate_mode(name: str, i: int, key: str, value: float) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        entry = next(c for c in doc["columns"] if c["name"] == name)
        entry["modes"][i][key] = value

    return mutate


def _extra_mode(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        entry = next(c for c in doc["columns"] if c["name"] == name)
        entry["modes"].append({"weight": 0.5, "mean": 1.0, "std": 1.0})

    return mutate


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (_mutate_numeric("m", "transform", "zscore"), r"transform.*zscore|zscore.*transform"),
        (_mutate_mode("m", 0, "std", -1.0), r"modes\[0\]"),
        (_mutate_mode("m", 0, "weight", 0.0), r"modes\[0\]"),
        (_mutate_mode("s", 0, "std", -0.5), r"modes\[0\]"),
        (_mutate_numeric("m", "range", [5.0, 1.0]), r"`range`"),
        (_mutate_numeric("m", "range", [1.0]), r"range"),
        (_mutate_numeric("r", "round", False), r"`round`"),
        (_mutate_numeric("d", "round", False), r"`round`"),
        (_extra_mode("s"), r"`modes`"),
        (_extra_mode("r"), r"`modes`"),
        (_mutate_numeric("m", "modes", []), r"`modes`"),
        (_mutate_numeric("m", "colour", 1), r"unknown field `colour`"),
        (_mutate_mode("m", 0, "shape", 1.0), r"unknown field `shape`"),
        (_mutate_numeric("m", "dtype", "float16"), r"dtype"),
        (_mutate_numeric("m", "null_indicator", "yes"), r"null_indicator"),
    ],
    ids=[
        "bad-transform",
        "negative-std",
        "zero-weight",
        "standard-negative-std",
        "range-lo-above-hi",
        "range-one-number",
        "round-false-int",
        "round-false-date",
        "standard-two-modes",
        "minmax-one-mode",
        "mode-no-modes",
        "unknown-field",
        "unknown-mode-field",
        "bad-dtype",
        "bad-null-indicator",
    ],
)
def test_malformed_numeric_entries_are_refused(
    mutate: Callable[[dict[str, Any]], None], match: str
) -> None:
    doc = document(_numeric_codec())
    mutate(doc)
    with pytest.raises(ValueError, match=match) as info:
        Codec.from_json(json.dumps(doc))
    message = str(info.value)
    assert not any(bad in message for bad in NOT_CLEAR), message


def test_hostile_case_count() -> None:
    assert len(HOSTILE) >= 25
