"""The bundled data: the UCI Adult census table (32,561 rows; CC BY 4.0), as Parquet."""

from __future__ import annotations

from pathlib import Path

ADULT = Path(__file__).parent / "data" / "adult.parquet"

__all__ = ["ADULT"]
