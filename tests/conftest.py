"""Shared fixtures of the pytest suite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from polars_gumbel import _internal

ADULT_PATH = Path(__file__).parents[1] / "python" / "polars_gumbel" / "data" / "adult.parquet"

#: The categorical columns of the bundled Adult table (its README lists them).
ADULT_CATEGORICAL = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
    "income",
)


@pytest.fixture(scope="session")
def adult() -> pl.DataFrame:
    """The bundled Adult census table, as published (leading spaces, ``?`` for missing)."""
    return pl.read_parquet(ADULT_PATH)


@pytest.fixture(scope="session")
def adult_categorical() -> tuple[str, ...]:
    """The names of the Adult table's categorical (String) columns."""
    return ADULT_CATEGORICAL


def _kept_modes(values: pl.Series, max_modes: int = 10, seed: int = 0) -> int:
    """How many modes a ``"mode"`` column of `values` keeps: the mixture's components
    (fitted on its sorted distinct values weighted by their counts) of weight above
    0.005, the threshold of CTGAN and RDT."""
    counts = values.drop_nulls().cast(pl.Float64).value_counts().sort(values.name)
    modes, _, _, _ = _internal.fit_mixture(
        counts[values.name].to_list(),
        counts["count"].cast(pl.Float64).to_list(),
        max_components=max_modes,
        seed=seed,
    )
    return sum(1 for weight, _, _ in modes if weight > 0.005)


@pytest.fixture(scope="session")
def kept_modes() -> Callable[..., int]:
    """How many modes a ``"mode"`` column keeps, computed apart from the codec."""
    return _kept_modes
