"""Type stubs of the compiled module gradcore._core (private; see gradcore.kernels)."""

import numpy as np
import numpy.typing as npt

COST_CODES: dict[str, int]
ACT_CODES: dict[str, int]
STATUS_OK: int
STATUS_NONFINITE: int
STATUS_INTERRUPTED: int
STATUS_STOPPED: int

class StopFlag:
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...

_Float = np.float64 | np.float32

class Arch:
    sizes: npt.NDArray[np.int32]
    acts: npt.NDArray[np.int8]
    n_params: int
    n_layers: int
    n_biases: int
    def __init__(self, sizes: object, acts: object, cost: int) -> None: ...

def param_count(sizes: npt.NDArray[np.int32]) -> int: ...
def feedforward(
    arch: Arch,
    params: npt.NDArray[_Float],
    X: npt.NDArray[_Float],
    z_out: npt.NDArray[_Float],
    a_out: npt.NDArray[_Float],
) -> None: ...
def forward_layers(
    arch: Arch,
    params: npt.NDArray[_Float],
    X: npt.NDArray[_Float],
    z_out: npt.NDArray[_Float],
    a_out: npt.NDArray[_Float],
) -> None: ...
def gradient(
    arch: Arch,
    params: npt.NDArray[_Float],
    X: npt.NDArray[_Float],
    Y: npt.NDArray[_Float],
    grad_out: npt.NDArray[_Float],
    sq_sum: npt.NDArray[np.float64] | None = None,
    stop: StopFlag | None = None,
) -> tuple[int, float]: ...
def sgd_epoch(
    arch: Arch,
    params: npt.NDArray[_Float],
    X: npt.NDArray[_Float],
    Y: npt.NDArray[_Float],
    perm: npt.NDArray[np.int64],
    batch_size: int,
    eta: float,
    lmbda: float,
    speed_sum: npt.NDArray[np.float64],
    sq_sum: npt.NDArray[np.float64] | None = None,
    max_batches: int = -1,
    stop: StopFlag | None = None,
    velocity: npt.NDArray[_Float] | None = None,
    update: dict[str, object] | None = None,
) -> tuple[int, float, int, int]: ...
def sgd_epochs(
    arch: Arch,
    params: npt.NDArray[_Float],
    X: npt.NDArray[_Float],
    Y: npt.NDArray[_Float],
    perms: npt.NDArray[np.int64],
    batch_size: int,
    eta: float,
    lmbda: float,
    speed_sums: npt.NDArray[np.float64],
    sq_sums: npt.NDArray[np.float64] | None = None,
    stop: StopFlag | None = None,
    velocity: npt.NDArray[_Float] | None = None,
    update: dict[str, object] | None = None,
) -> tuple[
    int,
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
]: ...
def weights_sum_squares(arch: Arch, params: npt.NDArray[_Float]) -> float: ...

UPDATE_DEFAULTS: dict[str, object]

def _alloc_fail_after(k: int) -> int: ...
def _alloc_live() -> int: ...

KERNEL_LEVELS: tuple[str, ...]

def kernel_level() -> str: ...
def set_kernel_level(level: str | None) -> None: ...
def set_num_threads(n: int) -> int: ...
def get_num_threads() -> int: ...

class thread_limit:
    n: int
    def __init__(self, n: int) -> None: ...
    def __enter__(self) -> thread_limit: ...
    def __exit__(self, *exc: object) -> bool: ...
