"""Type aliases of the public API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union

import polars as pl

IntoExpr = Union[pl.Expr, str]
Category = Union[str, int, bool]
Categories = Sequence[Category]
OneHotLayout = Literal["struct", "array"]
UnknownPolicy = Literal["error", "zeros", "null", "other"]
NullPolicy = Literal["null", "zeros", "category"]
DecodeMethod = Literal["argmax", "sample"]
