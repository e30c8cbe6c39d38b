"""Saving and loading networks as JSON, in the layout of network2.py.

network2.py ("Neural Networks and Deep Learning", chapter 3 onwards) saves a network as
one JSON object::

    {"sizes": [784, 30, 10],
     "weights": [W0, W1],          # W_l: n_out lists of n_in numbers
     "biases": [b0, b1],           # b_l: n_out lists of one number (column vectors)
     "cost": "CrossEntropyCost"}   # or "QuadraticCost"

gradcore writes exactly that, plus a ``"dtype"`` key ("float64" or "float32") that
network2's ``load`` ignores, so a file goes both ways. A network that is not all sigmoid
also has ``"activation"`` (one name per hidden layer), ``"output"`` (``"softmax"``, with
the cost ``"LogLikelihoodCost"``) and, with PReLU layers, ``"slopes"`` (per hidden layer
the list of its slopes, or null); a file without them (network2's) is all sigmoid. Floats
are written with Python's ``repr``, which reads back to the same float64 bit for bit (a
float32 parameter is written as its exact float64 value, so it reads back exactly too).

Saving is atomic: the JSON goes to a temporary file in the destination directory, is
flushed to disk and then renamed over the destination, so an interrupted or failed save
leaves the previous file as it was and no temporary file behind. A process killed outright
(SIGKILL, power loss) cannot remove its temporary file; the next save in that directory
does, recognising it by its name ``.gradcore-<pid>-<random>.tmp``. Loading checks the whole
file before building a network and raises :class:`NetworkFileError` saying what is wrong;
it reads only regular files, and refuses one far larger than the network it describes
before reading it whole.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from ._arch import architecture
from ._files import (
    fsync_directory,
    open_regular,
    regular_file_mode,
    write_temporary,
)
from ._layout import layer_views
from ._validation import MAX_LAYERS, check_dtype, check_sizes

__all__ = ["NetworkFileError", "NetworkRecord", "read_network", "save_network"]

#: gradcore's cost names and the names of network2's cost classes, both ways.
_COST_TO_FILE = {"cross_entropy": "CrossEntropyCost", "quadratic": "QuadraticCost",
                 "log_likelihood": "LogLikelihoodCost"}
_COST_FROM_FILE = {v: k for k, v in _COST_TO_FILE.items()}
_REQUIRED_KEYS = ("sizes", "weights", "biases", "cost")

#: Largest network file :func:`load` reads (parsing takes several times its size in memory).
MAX_FILE_BYTES = 1 << 30
#: Most bytes per parameter of a network file: a float's repr has at most 24 characters,
#: separators, brackets and indentation come on top.
_BYTES_PER_PARAM = 64
#: Bytes allowed besides the parameters; a file up to this size is read without more ado.
_FIXED_BYTES = 1 << 20
#: The start of a "sizes" array (not in a string), and how much of it is looked at: a
#: valid one of MAX_LAYERS numbers is far shorter.
_SIZES_KEY = re.compile(rb'(?<!\\)"sizes"\s*:\s*\[')
_SIZES_BYTES = 1 << 16
_CHUNK = 1 << 18

PathLike = str | bytes | os.PathLike[str] | os.PathLike[bytes]


class NetworkFileError(ValueError):
    """A network file could not be read: not JSON, truncated, or not a valid network.

    Attributes
    ----------
    path : str
        The file.
    reason : str
        What is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# ---------------------------------------------------------------------------------- save
class NetworkRecord(NamedTuple):
    """What a network file holds: sizes, cost name, dtype, the flat parameter buffer (the
    layout of :mod:`gradcore._arch`: weights and biases, then PReLU slopes), and the
    activations of the hidden layers and the output."""

    sizes: tuple[int, ...]
    cost: str
    dtype: np.dtype[Any]
    params: np.ndarray
    activations: tuple[str, ...] = ()
    output: str = "sigmoid"


def record_to_dict(net: NetworkRecord) -> dict[str, Any]:
    """The JSON-ready dict of a network in network2's layout (plus ``"dtype"``, and the
    activations of a network that is not all sigmoid)."""
    weights, biases = layer_views(net.params, net.sizes)
    out = {
        "sizes": [int(s) for s in net.sizes],
        "weights": [np.asarray(w, dtype=np.float64).tolist() for w in weights],
        "biases": [np.asarray(b, dtype=np.float64).reshape(-1, 1).tolist() for b in biases],
        "cost": _COST_TO_FILE[net.cost],
        "dtype": np.dtype(net.dtype).name,
    }
    acts = net.activations or ("sigmoid",) * (len(net.sizes) - 2)
    if any(a != "sigmoid" for a in acts) or net.output != "sigmoid":
        out["activation"] = list(acts)
        out["output"] = net.output
    arch = architecture(net.sizes, acts, net.output, net.cost)
    if arch.prelu_layers:
        out["slopes"] = [None if v is None else np.asarray(v, dtype=np.float64).tolist()
                         for v in arch.slope_views(net.params)]
    return out


def save_network(net: NetworkRecord, path: PathLike) -> None:
    """Write a network to ``path`` as JSON in network2's layout, atomically.

    Parameters
    ----------
    net : NetworkRecord
        The network to save (``Network.save`` passes its own). Its parameters must all be
        finite.
    path : str, bytes or os.PathLike
        Destination file. It is replaced only once the new content is completely written
        and flushed to disk; if anything fails before that, the previous file (if any) is
        left unchanged and the temporary file is removed. A symbolic link is followed: the
        file it points to is replaced. An existing file keeps its permission bits. Only a
        regular file is ever replaced: a directory, a FIFO or a device such as /dev/null
        is refused.

    Raises
    ------
    ValueError
        The network has NaN or infinite parameters (such a file could not be loaded back).
    OSError
        The destination is not a regular file (IsADirectoryError for a directory), the
        directory is not writable, the disk is full, and so on. The message names the
        file.
    """
    if not np.isfinite(net.params).all():
        raise ValueError("cannot save a network with NaN or infinite parameters")
    data = record_to_dict(net)
    given = target = os.fsdecode(path)
    if os.path.islink(target):
        target = os.path.realpath(target)
    directory = os.path.dirname(os.path.abspath(target))

    def write(f: BinaryIO) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8")
        json.dump(data, text, allow_nan=False)
        text.flush()
        text.detach()

    mode = regular_file_mode(target)
    try:
        tmp = write_temporary(directory, write, mode)
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        # the temporary file is ours, not the user's: name the file they gave
        if exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, given) from None
    fsync_directory(directory)


# ---------------------------------------------------------------------------------- load
def read_network(path: PathLike, *, dtype: Any = None) -> NetworkRecord:
    """The contents of a network file, checked (the work of :func:`gradcore.load`)."""
    fname = os.fsdecode(path)
    if dtype is not None:
        dtype = check_dtype(dtype)
    data = _parse(fname, _read_network_file(fname))
    sizes, cost, file_dtype, weights, biases = _check_contents(fname, data)
    arch = _check_architecture(fname, data, sizes, cost)
    dt = dtype if dtype is not None else file_dtype
    params = np.zeros(arch.n_params, dtype=dt)
    w_views, b_views = layer_views(params, sizes)
    for l, (w, b) in enumerate(zip(weights, biases)):
        w_views[l][...] = _as_array(fname, f"weights[{l}]", w, dt)
        b_views[l][...] = _as_array(fname, f"biases[{l}]", b, dt).reshape(-1)
    for l, view in enumerate(arch.slope_views(params)):
        if view is not None:
            _check_matrix(fname, f"slopes[{l}]", [data["slopes"][l]], 1, view.shape[0],
                          f"the PReLU slopes of hidden layer {l}")
            view[...] = _as_array(fname, f"slopes[{l}]", data["slopes"][l], dt)
    return NetworkRecord(sizes, cost, dt, params, arch.activations, arch.output)


def _check_architecture(fname: str, data: dict[str, Any], sizes: tuple[int, ...],
                        cost: str) -> Any:
    """The file's activations, output and cost as an Architecture (network2's files, which
    name none, are all sigmoid)."""
    try:
        arch = architecture(sizes, data.get("activation", "sigmoid"),
                            data.get("output", "sigmoid"), cost)
    except (TypeError, ValueError) as exc:
        raise NetworkFileError(fname, str(exc)) from exc
    if arch.prelu_layers:
        slopes = data.get("slopes")
        if not isinstance(slopes, list) or len(slopes) != len(sizes) - 2:
            raise NetworkFileError(fname, f"'slopes' must be a list with one entry per hidden "
                                          f"layer ({len(sizes) - 2}), the PReLU layers' "
                                          f"slopes, got {_short(slopes)}")
    return arch


def _read_network_file(fname: str) -> bytes:
    """The bytes of a network file, refused unread if far larger than its network needs."""
    with open_regular(fname) as f:
        size = os.fstat(f.fileno()).st_size
        limit = _size_limit(fname, f, size)
        f.seek(0)
        raw = f.read(size + 1)
        if len(raw) > size:  # it grew since, or reports no size (like the files of /proc)
            raw += f.read(limit + 1 - len(raw))
    if len(raw) > limit:
        raise NetworkFileError(fname, f"more than {limit} bytes could be read, though the "
                                      f"file's size was {size} bytes")
    return raw


def _size_limit(fname: str, f: io.BufferedReader, size: int) -> int:
    """The most bytes the network file ``f`` may hold; raises if its ``size`` is more."""
    if size > MAX_FILE_BYTES:
        raise NetworkFileError(fname, f"the file is {size} bytes, more than the limit of "
                                      f"{MAX_FILE_BYTES} bytes for a network file")
    if size <= _FIXED_BYTES:
        return _FIXED_BYTES
    sizes = _find_sizes(fname, f, size)
    n_params = sum(b * (a + 1) for a, b in zip(sizes[:-1], sizes[1:]))
    limit = min(_FIXED_BYTES + _BYTES_PER_PARAM * n_params, MAX_FILE_BYTES)
    if size > limit:
        raise NetworkFileError(fname, f"the file is {size} bytes, more than the {limit} "
                                      f"bytes a network of sizes {list(sizes)} ({n_params} "
                                      f"parameters) can need")
    return limit


def _find_sizes(fname: str, f: io.BufferedReader, size: int) -> tuple[int, ...]:
    """The checked "sizes" of the network file ``f``, found without parsing the rest."""
    tail = b""
    while chunk := f.read(_CHUNK):
        buf = tail + chunk
        match = _SIZES_KEY.search(buf)
        if match:
            text = buf[match.end() - 1:match.end() - 1 + _SIZES_BYTES]  # from its "["
            text += f.read(_SIZES_BYTES - len(text))
            end = text.find(b"]", 0, _SIZES_BYTES)
            if end < 0:
                raise NetworkFileError(fname, f"invalid 'sizes': longer than {_SIZES_BYTES} "
                                              f"bytes, more layers than the limit {MAX_LAYERS}")
            try:
                value = json.loads(text[:end + 1])
            except ValueError as exc:
                raise NetworkFileError(fname, f"invalid 'sizes': {exc}") from exc
            return _checked_sizes(fname, value)
        tail = buf[-64:]  # a key cut in two by the chunks is found with the next one
    raise NetworkFileError(fname, f"no 'sizes' array found in the file's {size} bytes (a "
                                  f"network file has {', '.join(map(repr, _REQUIRED_KEYS))})")


def _checked_sizes(fname: str, value: Any) -> tuple[int, ...]:
    try:
        return check_sizes(value)
    except (TypeError, ValueError) as exc:
        raise NetworkFileError(fname, f"invalid 'sizes' {_short(value)}: {exc}") from exc


def _parse(fname: str, raw: bytes) -> Any:
    if not raw.strip():
        raise NetworkFileError(fname, "the file is empty" if not raw else
                               "the file holds only whitespace")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NetworkFileError(fname, f"not a UTF-8 JSON text file ({exc.reason} at "
                                      f"byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            reason = (f"the JSON ends unexpectedly after {len(text)} characters "
                      f"(truncated file?): {exc.msg}")
        else:
            reason = (f"not valid JSON (corrupt file?): {exc.msg} at line {exc.lineno} "
                      f"column {exc.colno}")
        raise NetworkFileError(fname, reason) from exc
    except RecursionError as exc:
        raise NetworkFileError(fname, "not a network file: JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise NetworkFileError(fname, f"not a valid network file: {exc}") from exc


def _check_contents(fname: str, data: Any
                    ) -> tuple[tuple[int, ...], str, np.dtype, list[Any], list[Any]]:
    def fail(reason: str) -> NetworkFileError:
        return NetworkFileError(fname, reason)

    if not isinstance(data, dict):
        raise fail(f"expected a JSON object with keys {', '.join(_REQUIRED_KEYS)}, "
                   f"got a JSON {_json_type(data)}")
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise fail(f"missing key{'s' if len(missing) > 1 else ''} "
                   f"{', '.join(map(repr, missing))} (a network file has "
                   f"{', '.join(map(repr, _REQUIRED_KEYS))})")
    sizes = _checked_sizes(fname, data["sizes"])
    cost_name = data["cost"]
    if not isinstance(cost_name, str) or cost_name not in _COST_FROM_FILE:
        raise fail(f"unknown cost {_short(cost_name)}: expected one of "
                   f"{', '.join(map(repr, _COST_FROM_FILE))}")
    file_dtype = np.dtype(np.float64)
    if "dtype" in data:
        if data["dtype"] not in ("float64", "float32"):
            raise fail(f"invalid 'dtype' {_short(data['dtype'])}: expected 'float64' or "
                       f"'float32'")
        file_dtype = np.dtype(data["dtype"])
    n_layers = len(sizes) - 1
    weights, biases = data["weights"], data["biases"]
    for key, value in (("weights", weights), ("biases", biases)):
        if not isinstance(value, list):
            raise fail(f"'{key}' must be a list of {n_layers} layers, got a JSON "
                       f"{_json_type(value)}")
        if len(value) != n_layers:
            raise fail(f"'{key}' has {len(value)} layers, but sizes {list(sizes)} need "
                       f"{n_layers}")
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        _check_matrix(fname, f"weights[{l}]", weights[l], n_out, n_in,
                      f"sizes[{l + 1}] x sizes[{l}]")
        _check_matrix(fname, f"biases[{l}]", biases[l], n_out, 1,
                      f"a column vector of sizes[{l + 1}] rows, written [[b0], [b1], ...]")
    return sizes, _COST_FROM_FILE[cost_name], file_dtype, weights, biases


def _check_matrix(fname: str, name: str, value: Any, rows: int, cols: int,
                  expected: str) -> None:
    """A list of ``rows`` lists of ``cols`` JSON numbers, all finite."""
    def fail(detail: str) -> NetworkFileError:
        return NetworkFileError(fname, f"{name} must be {rows} x {cols} ({expected}); "
                                       f"{detail}")

    if not isinstance(value, list):
        raise fail(f"got a JSON {_json_type(value)}")
    if len(value) != rows:
        raise fail(f"got {len(value)} rows")
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise fail(f"row {i} is a JSON {_json_type(row)}, not a list")
        if len(row) != cols:
            raise fail(f"row {i} has {len(row)} entries")
    kinds = {type(v) for row in value for v in row}
    if not kinds <= {int, float}:
        bad = next(v for row in value for v in row if type(v) not in (int, float))
        raise NetworkFileError(fname, f"{name} holds a non-numeric value {_short(bad)} "
                                      f"(a JSON {_json_type(bad)})")
    if float in kinds and not all(math.isfinite(v) for row in value for v in row
                                  if type(v) is float):
        n_bad = sum(type(v) is float and not math.isfinite(v) for row in value for v in row)
        raise NetworkFileError(fname, f"{name} holds {n_bad} NaN or infinite value(s)")


def _as_array(fname: str, name: str, value: list[Any], dtype: np.dtype) -> np.ndarray:
    try:
        with np.errstate(over="ignore"):
            arr = np.array(value, dtype=dtype)
    except OverflowError as exc:  # an integer beyond the float range
        raise NetworkFileError(fname, f"{name} holds a number too large for "
                                      f"{dtype.name}") from exc
    if not np.isfinite(arr).all():
        raise NetworkFileError(fname, f"{name} holds values outside the {dtype.name} "
                                      f"range")
    return arr


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # pragma: no cover - json produces only the above


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
