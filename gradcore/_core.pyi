"""Type stubs of the compiled module gradcore._core (private; see gradcore.kernels)."""

import numpy as np
import numpy.typing as npt

COST_CODES: dict[str, int]
STATUS_OK: int
STATUS_NONFINITE: int
STATUS_INTERRUPTED: int
STATUS_STOPPED: int

class StopFlag:
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...

_Float = np.float64 | np.float32

def param_count(sizes: npt.NDArray[np.int32]) -> int: ...
def feedforward(
    params: npt.NDArray[_Float],
    sizes: npt.NDArray[np.int32],
    cost: int,
    X: npt.NDArray[_Float],
    z_out: npt.NDArray[_Float],
    a_out: npt.NDArray[_Float],
) -> None: ...
def gradient(
    params: npt.NDArray[_Float],
    sizes: npt.NDArray[np.int32],
    cost: int,
    X: npt.NDArray[_Float],
    Y: npt.NDArray[_Float],
    grad_out: npt.NDArray[_Float],
    stop: StopFlag | None = None,
) -> tuple[int, float]: ...
def sgd_epoch(
    params: npt.NDArray[_Float],
    sizes: npt.NDArray[np.int32],
    cost: int,
    X: npt.NDArray[_Float],
    Y: npt.NDArray[_Float],
    perm: npt.NDArray[np.int64],
    batch_size: int,
    eta: float,
    lmbda: float,
    speed_sum: npt.NDArray[np.float64],
    max_batches: int = -1,
    stop: StopFlag | None = None,
) -> tuple[int, float, int]: ...

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
