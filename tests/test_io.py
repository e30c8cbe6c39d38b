"""Saving and loading networks in network2's JSON layout."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gradcore
from gradcore import NetworkFileError, _io, load

SIZES = [6, 5, 4, 3]


def _net(cost: str = "cross_entropy", dtype: Any = np.float64, seed: int = 1,
         sizes: list[int] = SIZES) -> gradcore.Network:
    return gradcore.Network(sizes, cost=cost, seed=seed, dtype=dtype)


def _inputs(n: int = 7, width: int = SIZES[0], seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).random((n, width))


# ------------------------------------------------------------ a minimal network2 (test-only)
class _Network2:
    """What network2.py's ``load`` and ``feedforward`` do, on one column vector at a time.

    Written from the book's description: ``load`` reads sizes, weights, biases and the cost
    class name and ignores every other key; ``feedforward`` computes a = σ(w·a + b) layer
    by layer with (n, 1) column vectors.
    """

    COSTS = ("CrossEntropyCost", "QuadraticCost")

    def __init__(self, path: Path) -> None:
        with open(path) as f:
            data = json.load(f)
        if data["cost"] not in self.COSTS:
            raise AttributeError(data["cost"])
        self.cost = data["cost"]
        self.sizes = data["sizes"]
        self.weights = [np.array(w) for w in data["weights"]]
        self.biases = [np.array(b) for b in data["biases"]]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        for b, w in zip(self.biases, self.weights):
            a = 1.0 / (1.0 + np.exp(-(np.dot(w, a) + b)))
        return a

    def outputs(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([self.feedforward(x.reshape(-1, 1)) for x in X]).T


# ------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cost", ["cross_entropy", "quadratic"])
def test_round_trip_is_bit_exact(tmp_path: Path, cost: str, dtype: Any) -> None:
    net = _net(cost, dtype)
    path = tmp_path / "net.json"
    net.save(path)
    back = load(path)
    assert back.sizes == net.sizes
    assert back.cost == cost
    assert back.dtype == np.dtype(dtype)
    assert back.params.tobytes() == net.params.tobytes()
    X = _inputs()
    np.testing.assert_array_equal(back.feedforward(X), net.feedforward(X))


def test_round_trip_of_a_trained_network(tmp_path: Path) -> None:
    X = _inputs(40)
    y = np.arange(40) % 3
    net = gradcore.train(SIZES, X, y, epochs=3, batch_size=5, eta=0.5, lmbda=1.0,
                         seed=3).network
    net.save(str(tmp_path / "trained.json"))
    back = load(str(tmp_path / "trained.json"))
    assert back.params.tobytes() == net.params.tobytes()
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


class _BytesPath:
    """An os.PathLike whose path is bytes."""

    def __init__(self, path: Path) -> None:
        self.path = os.fsencode(path)

    def __fspath__(self) -> bytes:
        return self.path


@pytest.mark.parametrize("kind", ["str", "Path", "bytes", "bytes PathLike"])
def test_save_and_load_accept_every_kind_of_path(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "net.json"
    arg = {"str": str(path), "Path": path, "bytes": os.fsencode(path),
           "bytes PathLike": _BytesPath(path)}[kind]
    net = _net()
    net.save(arg)
    assert load(arg).params.tobytes() == net.params.tobytes()
    assert os.listdir(tmp_path) == ["net.json"]
    path.write_text("{")
    with pytest.raises(NetworkFileError) as info:
        load(arg)
    assert info.value.path == str(path)  # the path as text, never b'...'
    assert str(info.value).startswith(f"{path}: ")


def test_saved_file_has_network2_layout(tmp_path: Path) -> None:
    net = _net("quadratic", sizes=[3, 2, 1])
    net.save(tmp_path / "n.json")
    data = json.loads((tmp_path / "n.json").read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost", "dtype"}
    assert data["sizes"] == [3, 2, 1]
    assert data["cost"] == "QuadraticCost"
    assert np.array(data["weights"][0]).shape == (2, 3)
    assert np.array(data["weights"][1]).shape == (1, 2)
    assert data["biases"][0] == [[float(net.biases[0][0])], [float(net.biases[0][1])]]
    assert np.array(data["biases"][1]).shape == (1, 1)


def test_load_dtype_overrides_the_file(tmp_path: Path) -> None:
    net = _net(dtype=np.float64)
    net.save(tmp_path / "n.json")
    as32 = load(tmp_path / "n.json", dtype=np.float32)
    assert as32.dtype == np.float32
    np.testing.assert_array_equal(as32.params, net.params.astype(np.float32))
    small = _net(dtype=np.float32)
    small.save(tmp_path / "s.json")
    as64 = load(tmp_path / "s.json", dtype="float64")
    assert as64.dtype == np.float64
    np.testing.assert_array_equal(as64.params, small.params.astype(np.float64))
    with pytest.raises(TypeError, match="float64 or float32"):
        load(tmp_path / "n.json", dtype=np.int32)


# ------------------------------------------------------------------- network2 interop
@pytest.mark.parametrize("cost", ["cross_entropy", "quadratic"])
def test_gradcore_file_loads_in_network2(tmp_path: Path, cost: str) -> None:
    net = _net(cost)
    net.save(tmp_path / "g.json")
    other = _Network2(tmp_path / "g.json")
    assert other.cost == {"cross_entropy": "CrossEntropyCost",
                          "quadratic": "QuadraticCost"}[cost]
    assert [w.shape for w in other.weights] == [(5, 6), (4, 5), (3, 4)]
    assert [b.shape for b in other.biases] == [(5, 1), (4, 1), (3, 1)]
    X = _inputs()
    np.testing.assert_allclose(other.outputs(X), net.feedforward(X), rtol=1e-12, atol=0)


def test_network2_file_loads_in_gradcore(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    sizes = [4, 3, 2]
    weights = [rng.standard_normal((3, 4)) / 2, rng.standard_normal((2, 3)) / np.sqrt(3)]
    biases = [rng.standard_normal((3, 1)), rng.standard_normal((2, 1))]
    path = tmp_path / "n2.json"
    # Written as network2's save writes it: tolist() of column-vector biases, the cost
    # class name, and nothing else.
    with open(path, "w") as f:
        json.dump({"sizes": sizes, "weights": [w.tolist() for w in weights],
                   "biases": [b.tolist() for b in biases], "cost": "QuadraticCost"}, f)
    net = load(path)
    assert net.sizes == (4, 3, 2)
    assert net.cost == "quadratic"
    assert net.dtype == np.float64
    for l in range(2):
        assert net.weights[l].tobytes() == weights[l].tobytes()
        assert net.biases[l].tobytes() == biases[l].ravel().tobytes()
    X = _inputs(9, 4)
    np.testing.assert_allclose(net.feedforward(X), _Network2(path).outputs(X), rtol=1e-12,
                               atol=0)


def test_integer_values_and_unknown_keys_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ints.json"
    path.write_text(json.dumps({"sizes": [2, 1], "weights": [[[1, -2]]], "biases": [[[0]]],
                                "cost": "CrossEntropyCost", "comment": "by hand"}))
    net = load(path)
    np.testing.assert_array_equal(net.weights[0], [[1.0, -2.0]])
    np.testing.assert_array_equal(net.biases[0], [0.0])


# ----------------------------------------------------------------------------- atomic
def _old_file(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "net.json"
    _net(seed=10).save(path)
    return path, path.read_bytes()


def test_failure_while_writing_keeps_the_old_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _old_file(tmp_path)

    def half_dump(obj: Any, fp: Any, **kwargs: Any) -> None:
        fp.write(json.dumps(obj)[:50])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_io.json, "dump", half_dump)
    with pytest.raises(OSError, match="No space left"):
        _net(seed=11).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.json"]


def test_failure_at_rename_keeps_the_old_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _old_file(tmp_path)

    def failing_replace(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_io.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        _net(seed=11).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.json"]


def test_interrupt_while_writing_leaves_no_temporary(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(obj: Any, fp: Any, **kwargs: Any) -> None:
        fp.write("{")
        raise KeyboardInterrupt

    monkeypatch.setattr(_io.json, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _net().save(tmp_path / "new.json")
    assert os.listdir(tmp_path) == []


_STALLED_SAVE = textwrap.dedent("""
    import sys
    import time

    import gradcore
    from gradcore import _io

    def stalled_dump(obj, fp, **kwargs):
        fp.write('{"sizes": ')
        fp.flush()
        print("writing", flush=True)
        time.sleep(600)

    _io.json.dump = stalled_dump
    gradcore.Network([3, 2], seed=0).save(sys.argv[1])
""")


def _stalled_save(path: Path) -> subprocess.Popen[str]:
    """A child process stopped in the middle of writing ``path``."""
    proc = subprocess.Popen([sys.executable, "-c", _STALLED_SAVE, str(path)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=path.parent)
    line = proc.stdout.readline() if proc.stdout else ""
    if line != "writing\n":  # the child ended without getting there: show why
        proc.kill()
        pytest.fail(f"the child did not start writing: {proc.communicate()[1]}")
    return proc


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and pids of POSIX")
def test_temporaries_of_killed_saves_are_removed(tmp_path: Path) -> None:
    path, before = _old_file(tmp_path)
    for _ in range(3):
        proc = _stalled_save(path)
        try:
            temporaries = [n for n in os.listdir(tmp_path) if n != "net.json"]
            assert len(temporaries) == 1, temporaries  # the killed ones' were removed
            assert str(proc.pid) in temporaries[0]
            _net(seed=2).save(tmp_path / "other.json")  # a save beside a live one ...
            assert temporaries[0] in os.listdir(tmp_path)  # ... leaves its temporary alone
        finally:
            proc.kill()  # SIGKILL: no clean-up runs in the child
            proc.communicate()
        os.remove(tmp_path / "other.json")
    assert path.read_bytes() == before
    _net(seed=3).save(tmp_path / "other.json")
    assert sorted(os.listdir(tmp_path)) == ["net.json", "other.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="pids and file locks of POSIX")
def test_locked_temporary_is_never_removed(tmp_path: Path) -> None:
    import fcntl

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid names no process now
    stale = tmp_path / f".gradcore-{gone.pid}-0123456789ab.tmp"
    stale.write_text("{")
    # A process in another PID namespace (another container sharing the folder) has a pid
    # that means nothing here, but its lock is seen.
    with open(stale) as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        _net().save(tmp_path / "net.json")
        assert stale.exists()
    _net().save(tmp_path / "net.json")
    assert os.listdir(tmp_path) == ["net.json"]


def test_save_to_a_name_of_the_longest_length(tmp_path: Path) -> None:
    longest = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    path = tmp_path / ("n" * (longest - len(".json")) + ".json")
    net = _net()
    net.save(path)
    assert load(path).params.tobytes() == net.params.tobytes()
    assert os.listdir(tmp_path) == [path.name]


def test_save_replaces_and_keeps_permissions(tmp_path: Path) -> None:
    path, _ = _old_file(tmp_path)
    os.chmod(path, 0o640)
    net = _net(seed=12)
    net.save(path)
    assert load(path).params.tobytes() == net.params.tobytes()
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == ["net.json"]


def test_save_through_a_symlink_replaces_its_target(tmp_path: Path) -> None:
    path, _ = _old_file(tmp_path)
    link = tmp_path / "latest.json"
    link.symlink_to(path.name)
    net = _net(seed=13)
    net.save(link)
    assert link.is_symlink()
    assert load(path).params.tobytes() == net.params.tobytes()
    assert sorted(os.listdir(tmp_path)) == ["latest.json", "net.json"]


def test_save_refuses_non_finite_parameters(tmp_path: Path) -> None:
    path, before = _old_file(tmp_path)
    net = _net()
    net.params[3] = np.nan  # bypasses the checked setters on purpose
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.json"]


def _names_only(exc: OSError, path: Path | str) -> None:
    """``exc`` names ``path`` as given, and not the temporary file that stood for it."""
    assert exc.filename == os.fsdecode(path) and exc.filename2 is None
    assert repr(os.fsdecode(path)) in str(exc)
    assert ".gradcore-" not in str(exc) and ".tmp" not in str(exc)


@pytest.mark.parametrize("kind", ["str", "Path", "bytes", "relative"])
def test_save_into_missing_directory_names_the_file_given(tmp_path: Path, kind: str,
                                                          monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "no" / "such" / "net.json"
    path: Any = {"str": str(target), "Path": target, "bytes": os.fsencode(target),
                 "relative": "no/such/net.json"}[kind]
    with pytest.raises(FileNotFoundError) as info:
        _net().save(path)
    _names_only(info.value, path)


def test_a_failed_write_or_rename_names_the_file_given(tmp_path: Path,
                                                       monkeypatch: Any) -> None:
    import errno

    path = tmp_path / "net.json"
    net = _net()

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write says it

    monkeypatch.setattr(_io.json, "dump", full)
    with pytest.raises(OSError) as info:
        net.save(path)
    assert info.value.errno == errno.ENOSPC
    _names_only(info.value, path)
    monkeypatch.undo()

    def refused(src: str, dst: str) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), src, dst)

    monkeypatch.setattr(_io.os, "replace", refused)
    with pytest.raises(PermissionError) as info:
        net.save(path)
    _names_only(info.value, path)
    assert os.listdir(tmp_path) == []  # the temporary is gone


def _special_files(tmp_path: Path) -> dict[str, Path]:
    """A FIFO, a symlink to it, a directory and, where allowed, a character device."""
    paths = {"fifo": tmp_path / "fifo", "link": tmp_path / "link", "dir": tmp_path / "dir"}
    os.mkfifo(paths["fifo"])
    paths["link"].symlink_to("fifo")
    paths["dir"].mkdir()
    try:  # the same device as /dev/null, made here so the real one is never at risk
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        paths["chardev"] = tmp_path / "null"
    except OSError:  # not root, or no CAP_MKNOD
        pass
    return paths


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_save_refuses_special_files(tmp_path: Path) -> None:
    paths = _special_files(tmp_path)
    for kind, path in paths.items():
        before = os.stat(path).st_mode
        with pytest.raises(OSError, match="not a regular file") as info:
            _net().save(path)
        assert str(path.resolve()) in str(info.value), kind
        assert os.stat(path).st_mode == before, kind  # still the same kind of file
        assert path.is_symlink() == (kind == "link")
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths.values())


# ---------------------------------------------------------------------- corrupt files
def _as_dict(net: gradcore.Network) -> dict[str, Any]:
    return _io.record_to_dict(_io.NetworkRecord(net.sizes, net.cost, net.dtype, net.params))


def _valid() -> dict[str, Any]:
    return _as_dict(_net(sizes=[3, 2, 2]))


def _write(tmp_path: Path, content: str | bytes | dict[str, Any]) -> Path:
    path = tmp_path / "bad.json"
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def _expect(tmp_path: Path, content: Any, pattern: str) -> NetworkFileError:
    path = _write(tmp_path, content)
    with pytest.raises(NetworkFileError, match=pattern) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    _expect(tmp_path, "", "empty")
    _expect(tmp_path, "  \n", "only whitespace")


def test_truncated_file(tmp_path: Path) -> None:
    text = json.dumps(_valid())
    for cut in (1, len(text) // 2, len(text) - 1):
        _expect(tmp_path, text[:cut], "ends unexpectedly.*truncated")


def test_corrupt_json(tmp_path: Path) -> None:
    text = json.dumps(_valid())
    _expect(tmp_path, text[:20] + "@" + text[21:], "not valid JSON.*line 1 column")
    _expect(tmp_path, text + "garbage", "not valid JSON")
    _expect(tmp_path, b"\xff\xfe\x00binary", "not a UTF-8")


def test_not_an_object(tmp_path: Path) -> None:
    _expect(tmp_path, "[1, 2, 3]", "expected a JSON object.*got a JSON array")


@pytest.mark.parametrize("key", ["sizes", "weights", "biases", "cost"])
def test_missing_key(tmp_path: Path, key: str) -> None:
    data = _valid()
    del data[key]
    err = _expect(tmp_path, data, f"missing key '{key}'")
    assert "network file has" in err.reason


def test_unknown_cost(tmp_path: Path) -> None:
    data = _valid()
    data["cost"] = "HingeCost"
    _expect(tmp_path, data, "unknown cost 'HingeCost'.*CrossEntropyCost")


def test_log_likelihood_cost_needs_a_softmax_output(tmp_path: Path) -> None:
    data = _valid()
    data["cost"] = "LogLikelihoodCost"
    _expect(tmp_path, data, "cost 'log_likelihood' does not go with output 'sigmoid'")
    data["cost"] = "cross_entropy"  # gradcore's own name is not network2's
    _expect(tmp_path, data, "unknown cost")


def test_invalid_sizes(tmp_path: Path) -> None:
    data = _valid()
    data["sizes"] = [3]
    _expect(tmp_path, data, "invalid 'sizes'.*at least 2 layers")
    data["sizes"] = [3, 2.5, 2]
    _expect(tmp_path, data, "invalid 'sizes'.*integer")
    data["sizes"] = "3,2,2"
    _expect(tmp_path, data, "invalid 'sizes'")


def test_shapes_not_matching_sizes(tmp_path: Path) -> None:
    data = _valid()
    data["sizes"] = [4, 2, 2]
    _expect(tmp_path, data, r"weights\[0\] must be 2 x 4.*row 0 has 3 entries")
    data = _valid()
    data["weights"][1] = data["weights"][1][:1]
    _expect(tmp_path, data, r"weights\[1\] must be 2 x 2.*got 1 rows")
    data = _valid()
    data["weights"].pop()
    _expect(tmp_path, data, "'weights' has 1 layers, but sizes .* need 2")
    data = _valid()
    data["biases"][0] = [b[0] for b in data["biases"][0]]  # flat, not column vectors
    _expect(tmp_path, data, r"biases\[0\] must be 2 x 1 \(a column vector.*row 0 is a "
                            r"JSON number")
    data = _valid()
    data["biases"] = {"0": []}
    _expect(tmp_path, data, "'biases' must be a list of 2 layers, got a JSON object")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_values(tmp_path: Path, token: str) -> None:
    text = json.dumps(_valid())
    start = text.index('"weights": [[[') + len('"weights": [[[')
    end = text.index(",", start)
    _expect(tmp_path, text[:start] + token + text[end:],
            r"weights\[0\] holds 1 NaN or infinite value")


def test_values_outside_float32_range(tmp_path: Path) -> None:
    data = _valid()
    data["biases"][1][0][0] = 1e300
    path = _write(tmp_path, data)
    assert load(path).biases[1][0] == 1e300
    with pytest.raises(NetworkFileError, match=r"biases\[1\] holds values outside the "
                                               r"float32 range"):
        load(path, dtype=np.float32)
    data["biases"][1][0][0] = 10 ** 400
    _expect(tmp_path, data, r"biases\[1\] holds a number too large")


@pytest.mark.parametrize("value", ["0.5", None, True, [0.5], {"v": 1}])
def test_non_numeric_values(tmp_path: Path, value: Any) -> None:
    data = _valid()
    data["weights"][1][1][0] = value
    if isinstance(value, list):
        _expect(tmp_path, data, r"weights\[1\] holds a non-numeric value \[0\.5\] "
                                r"\(a JSON array\)")
    else:
        _expect(tmp_path, data, r"weights\[1\] holds a non-numeric value")


def test_invalid_dtype_key(tmp_path: Path) -> None:
    data = _valid()
    data["dtype"] = "int8"
    _expect(tmp_path, data, "invalid 'dtype' 'int8'")
    data["dtype"] = None
    _expect(tmp_path, data, "invalid 'dtype' None")


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.json")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_load_refuses_special_files_without_blocking(tmp_path: Path) -> None:
    paths = {**_special_files(tmp_path), "/dev/null": Path("/dev/null")}
    for kind, path in paths.items():
        error = _error_within_10s(load, path, paths["fifo"])
        assert isinstance(error, OSError), (kind, error)
        assert "not a regular file" in str(error), kind
        assert str(path) in str(error), kind


def _error_within_10s(fn: Any, path: Path, fifo: Path) -> BaseException:
    """What ``fn(path)`` raises; fails the test if it is still blocked after 10 s.

    Refusing takes no time; opening a FIFO to read blocks until a writer comes, so one
    comes and goes at once to unblock it (the reader sees an empty file).
    """
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            fn(path)
            outcome.append(AssertionError(f"{fn.__name__}({path}) raised nothing"))
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=call, daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join()
        pytest.fail(f"{fn.__name__}({path}) blocked")
    return outcome[0]


_LIMITED_LOADS = textwrap.dedent("""
    import json
    import resource
    import sys

    limit = 512 << 20  # far below what reading any of these files whole would take
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import gradcore

    results = []
    for path in sys.argv[1:]:
        try:
            gradcore.load(path)
            results.append("loaded")
        except Exception as exc:
            results.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps(results))
""")


def _sparse(path: Path, head: str, size: int) -> Path:
    """A file of ``size`` bytes that starts with ``head``, taking no room on disk."""
    with open(path, "wb") as f:
        f.write(head.encode())
        f.truncate(size)
    return path


@pytest.mark.memory_limits
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /dev/zero of Linux")
def test_load_reads_no_more_than_the_network_can_need(tmp_path: Path) -> None:
    head = '{"sizes": [784, 30, 10], "weights": [[['
    big = _sparse(tmp_path / "big.json", head, 300_000_000)
    huge = _sparse(tmp_path / "huge.json", head, _io.MAX_FILE_BYTES + 1)
    out = subprocess.run([sys.executable, "-c", _LIMITED_LOADS, "/dev/zero", str(big),
                          str(huge)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    zero, big_err, huge_err = json.loads(out.stdout)
    assert zero.startswith("OSError: ") and "not a regular file" in zero, zero
    assert big_err.startswith(f"NetworkFileError: {big}: the file is 300000000 bytes, more "
                              f"than the {_io._FIXED_BYTES + 64 * 23_860} bytes a network "
                              f"of sizes [784, 30, 10] (23860 parameters) can need"), big_err
    assert huge_err.startswith(f"NetworkFileError: {huge}: the file is "
                               f"{_io.MAX_FILE_BYTES + 1} bytes, more than the limit"), huge_err


def test_large_file_with_sizes_last_loads(tmp_path: Path) -> None:
    net = _net(sizes=[784, 100, 10])
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps(_as_dict(net), sort_keys=True, indent=1))
    assert path.stat().st_size > _io._FIXED_BYTES  # 'sizes' is found after 'biases'
    assert load(path).params.tobytes() == net.params.tobytes()
    text = path.read_text().replace('"sizes"', '"shapes"')
    err = _expect(tmp_path, text, "no 'sizes' array found")
    assert str(len(text)) in err.reason


def test_too_many_layers_refused_before_parsing(tmp_path: Path) -> None:
    n = 100_000
    text = ('{"sizes": [' + ", ".join(["1"] * n) + '], "weights": ['
            + ", ".join(["[[0.5]]"] * (n - 1)) + '], "biases": ['
            + ", ".join(["[[0.5]]"] * (n - 1)) + '], "cost": "QuadraticCost"}')
    path = _write(tmp_path, text)
    tracemalloc.start()
    try:
        with pytest.raises(NetworkFileError, match=r"invalid 'sizes'.*limit 1000"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(text), peak  # the file was not read whole, let alone parsed
    small = ('{"sizes": [' + ", ".join(["1"] * 1001) + '], "weights": [], "biases": [], '
             '"cost": "QuadraticCost"}')
    _expect(tmp_path, small, "invalid 'sizes'.*1001 layers, more than the limit 1000")


def test_absurd_integer_literal(tmp_path: Path) -> None:
    text = json.dumps(_valid()).replace('"sizes": [3', '"sizes": [' + "9" * 5000, 1)
    _expect(tmp_path, text, "not a valid network file")
