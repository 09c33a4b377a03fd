"""Shared fixtures of the pytest suite."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

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
