"""``pl.col(...).gumbel``: the expressions as an expression namespace.

Each method calls the function of the same name with the expression as its first
argument, e.g. ``pl.col("sex").gumbel.one_hot(["F", "M"])`` is
``one_hot(pl.col("sex"), ["F", "M"])``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from polars_gumbel import expressions


@pl.api.register_expr_namespace("gumbel")
class GumbelNamespace:
    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def one_hot(self, *args: Any, **kwargs: Any) -> pl.Expr:
        """See :func:`polars_gumbel.one_hot`."""
        return expressions.one_hot(self._expr, *args, **kwargs)

    def softmax(self, **kwargs: Any) -> pl.Expr:
        """See :func:`polars_gumbel.softmax`."""
        return expressions.softmax(self._expr, **kwargs)

    def log_softmax(self, **kwargs: Any) -> pl.Expr:
        """See :func:`polars_gumbel.log_softmax`."""
        return expressions.log_softmax(self._expr, **kwargs)

    def gumbel_softmax(self, **kwargs: Any) -> pl.Expr:
        """See :func:`polars_gumbel.gumbel_softmax`."""
        return expressions.gumbel_softmax(self._expr, **kwargs)

    def argmax(self) -> pl.Expr:
        """See :func:`polars_gumbel.argmax`."""
        return expressions.argmax(self._expr)

    def decode(self, *args: Any, **kwargs: Any) -> pl.Expr:
        """See :func:`polars_gumbel.decode`."""
        return expressions.decode(self._expr, *args, **kwargs)
