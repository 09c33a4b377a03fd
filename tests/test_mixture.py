"""The mixture fit of mode-specific normalisation (`src/mixture.rs`), against
scikit-learn's ``BayesianGaussianMixture`` with the same model (a Dirichlet-process
prior of concentration 0.001 on the weights, at most 10 components, full covariance).

Both fits are judged by one yardstick, computed here with numpy: the mean
log-likelihood per value of the fitted mixture (its weights, means and standard
deviations), over every row of the data. Ours fits distinct values weighted by their
counts; scikit-learn fits every row. Mixtures with known components check that the
components are found again.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

from polars_gumbel import _internal

ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")


def mean_log_likelihood(
    x: npt.NDArray[np.float64],
    counts: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    means: npt.NDArray[np.float64],
    stds: npt.NDArray[np.float64],
) -> float:
    """The mean over rows of ln sum_k w_k N(x | mean_k, std_k^2), each value `counts` times."""
    z = (x[:, None] - means[None, :]) / stds[None, :]
    log_pdf = -0.5 * z**2 - np.log(stds)[None, :] - 0.5 * np.log(2 * np.pi)
    log_mix = np.log(np.maximum(weights, 1e-300))[None, :] + log_pdf
    top = log_mix.max(axis=1)
    lse = top + np.log(np.exp(log_mix - top[:, None]).sum(axis=1))
    return float((counts * lse).sum() / counts.sum())


def ours(
    x: npt.NDArray[np.float64], counts: npt.NDArray[np.float64], seed: int = 0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    modes, _, _, _ = _internal.fit_mixture(x.tolist(), counts.tolist(), seed=seed)
    w, m, s = (np.array(v) for v in zip(*modes))
    return w, m, s


def sklearn_fit(
    rows: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    model = BayesianGaussianMixture(
        n_components=10,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        covariance_type="full",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(rows.reshape(-1, 1))
    return model.weights_, model.means_.ravel(), np.sqrt(model.covariances_.ravel())


@pytest.mark.parametrize("column", ADULT_NUMERIC)
def test_adult_column_fits_as_well_as_sklearn(adult: pl.DataFrame, column: str) -> None:
    counts = adult.group_by(column).len().sort(column)
    x = counts[column].cast(pl.Float64).to_numpy()
    n = counts["len"].cast(pl.Float64).to_numpy()
    rows = adult[column].cast(pl.Float64).to_numpy()
    mine = mean_log_likelihood(x, n, *ours(x, n))
    theirs = mean_log_likelihood(x, n, *sklearn_fit(rows))
    assert mine >= theirs - 0.01, (column, mine, theirs)


@pytest.mark.parametrize(
    ("means", "stds", "weights"),
    [
        ([-10.0, 0.0, 10.0], [1.0, 1.0, 1.0], [0.2, 0.5, 0.3]),
        ([0.0, 25.0], [2.0, 5.0], [0.7, 0.3]),
        ([100.0, 140.0, 200.0, 260.0], [3.0, 4.0, 5.0, 6.0], [0.1, 0.4, 0.3, 0.2]),
    ],
)
def test_well_separated_components_are_found(
    means: list[float], stds: list[float], weights: list[float]
) -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    sizes = rng.multinomial(n, weights)
    x = np.concatenate([rng.normal(m, s, k) for m, s, k in zip(means, stds, sizes)])
    # Weights and means only: the model's prior widens a small component far from the
    # data's mean by about (x̄_k - m₀)² / N_k, in scikit-learn's fit as in ours.
    spread = max(means) - min(means)
    for fitted in (ours(x, np.ones_like(x)), sklearn_fit(x)):
        w, m, s = fitted
        kept = w > 0.005
        w, m, s = w[kept], m[kept], s[kept]
        # Each kept component joins its nearest true one: the stick-breaking prior
        # merges split components slowly, here as in scikit-learn.
        owner = np.abs(m[:, None] - np.array(means)[None, :]).argmin(axis=1)
        for j, mean in enumerate(means):
            mine = owner == j
            weight = w[mine].sum()
            assert abs(weight - sizes[j] / n) < 0.02, (j, w, m)
            assert abs((w[mine] * m[mine]).sum() / weight - mean) < 0.02 * spread, (j, w, m)


def test_weighted_distinct_values_fit_like_the_rows(adult: pl.DataFrame) -> None:
    counts = adult.group_by("age").len().sort("age")
    x = counts["age"].cast(pl.Float64).to_numpy()
    n = counts["len"].cast(pl.Float64).to_numpy()
    rows = np.repeat(x, n.astype(int))
    a = ours(x, n)
    b = ours(rows, np.ones_like(rows))
    for left, right in zip(a, b):
        np.testing.assert_allclose(left, right, rtol=1e-9, atol=1e-9)


def test_fit_errors_and_degenerate_data() -> None:
    assert _internal.fit_mixture([3.0, 3.0], [5.0, 1.0])[0] == [(1.0, 3.0, 0.0)]
    for values, counts in (([1.0, float("nan")], [1.0, 1.0]), ([1.0, 2.0], [1.0, -1.0])):
        with pytest.raises(ValueError, match="mixture"):
            _internal.fit_mixture(values, counts)
    with pytest.raises(ValueError, match="concentration"):
        _internal.fit_mixture([1.0, 2.0], [1.0, 1.0], concentration=0.0)
