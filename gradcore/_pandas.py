"""pandas, imported only by the calls that return a DataFrame (the ``pandas`` extra)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["require_pandas", "require_pyarrow"]


def require_pandas(what: str) -> Any:
    """The pandas module, or an ImportError naming ``what`` needs it and how to get it.

    Parameters
    ----------
    what : str
        The call that needs pandas, e.g. ``"History.to_frame()"``.
    """
    try:
        return importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError(
            f"{what} needs pandas, which is not installed: pip install 'gradcore[pandas]' "
            f"(or pip install pandas)") from exc


def require_pyarrow(what: str) -> Any:
    """pyarrow (for Parquet files), or an ImportError naming the extra that brings it."""
    try:
        return importlib.import_module("pyarrow")
    except ImportError as exc:
        raise ImportError(
            f"{what} needs pyarrow to write Parquet, which is not installed: "
            f"pip install 'gradcore[pandas]' (or pip install pyarrow)") from exc
