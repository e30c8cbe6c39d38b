"""The argument rules that every other check is made of (:mod:`gradcore._validation` declares
which argument takes which): a rule checks and normalises one value, or raises TypeError or
ValueError naming the argument, what was allowed and what came.

Kept apart from the table so that the modules the table names rules from
(:mod:`gradcore._init`) can build on these without importing the table.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["Constraint", "Integer", "Real", "Options"]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


class Constraint:
    """One rule for one argument. ``check`` returns the value normalised, or raises."""

    #: What is allowed, for messages: "an integer >= 1".
    description = "a valid value"

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def parse(self, name: str, text: str) -> Any:
        """The value of a command-line string, checked (ValueError/TypeError if not)."""
        return self.check(name, text)

    def _type_error(self, name: str, value: Any) -> TypeError:
        return TypeError(f"{name} must be {self.description}, got {value!r} "
                         f"({type(value).__name__})")


class Integer(Constraint):
    """An integer (not a bool) in [low, high]; either bound may be None."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high
        bounds = [f">= {low}"] if low is not None else []
        bounds += [f"<= {high}"] if high is not None else []
        self.description = "an integer" + (" " + " and ".join(bounds) if bounds else "")

    def check(self, name: str, value: Any) -> int:
        if not _is_int(value):
            raise self._type_error(name, value)
        v = int(value)
        if self.low is not None and v < self.low:
            raise ValueError(f"{name} must be >= {self.low}, got {v}")
        if self.high is not None and v > self.high:
            raise ValueError(f"{name} must be <= {self.high}, got {v}")
        return v

    def parse(self, name: str, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"{name} must be {self.description}, got {text!r}") from None
        return self.check(name, value)


def _shown(v: float) -> str:
    """``v`` short (``%g``) where that is exact, else with every digit: 100.0000001 is not
    shown as 100, beside a bound of 100."""
    short = f"{v:g}"
    return short if float(short) == v else repr(v)


class Real(Constraint):
    """A finite real number, above ``low`` (inclusive unless ``strict``) and at most ``high``
    where they are given."""

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 strict: bool = False) -> None:
        self.low, self.high, self.strict = low, high, strict
        bounds = [] if low is None else [f"{'>' if strict else '>='} {low:g}"]
        bounds += [] if high is None else [f"<= {high:g}"]
        self.description = "a finite number" + (" " + " and ".join(bounds) if bounds else "")

    def check(self, name: str, value: Any) -> float:
        if not _is_real(value):
            raise self._type_error(name, value)
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
        if self.low is not None and (v < self.low or (self.strict and v == self.low)):
            raise ValueError(f"{name} must be {'>' if self.strict else '>='} {self.low:g}, "
                             f"got {_shown(v)}")
        if self.high is not None and v > self.high:
            raise ValueError(f"{name} must be <= {self.high:g}, got {_shown(v)}")
        return v

    def parse(self, name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} must be {self.description}, got {text!r}") from None
        return self.check(name, value)


class Flag(Constraint):
    """True or False (a NumPy bool too), as a bool."""

    description = "True or False"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise self._type_error(name, value)
        return bool(value)


class Options(Constraint):
    """One of a few strings."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.description = "one of " + ", ".join(map(repr, choices))

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise ValueError(f"{name} must be {self.description}, got {value!r}")
        return value
