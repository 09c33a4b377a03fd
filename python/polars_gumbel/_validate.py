"""Argument checks shared by the public functions, run before a plan is built."""

from __future__ import annotations

import numbers
from collections.abc import Collection
from typing import Any


def choice(name: str, value: Any, allowed: Collection[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def no_nul(name: str, value: str) -> str:
    """`value`, which becomes part of a field name or a category: Polars cannot hold a
    NUL character there."""
    if "\x00" in value:
        raise ValueError(f"{name} must not contain a NUL character, got {value!r}")
    return value


def column_name(what: str, value: Any) -> str:
    """A column name a user passes (an input, a key, a codec column): a str that Polars
    can carry through a plan, which a NUL character cannot."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a column name (str), got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(
            f"{what} {value!r} holds a NUL character, which a Polars column name cannot"
        )
    return value


def name_part(name: str, value: Any) -> str:
    """A str option that becomes part of a field name (prefix, separator, label)."""
    return no_nul(name, text(name, value))


def real(name: str, value: Any) -> float:
    """A real number option (int, float or a numpy scalar), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def integer(name: str, value: Any) -> int:
    """An integer option (int or a numpy integer), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)
