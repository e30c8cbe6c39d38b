"""Smoke test of an installed gradcore wheel, run from outside the source tree.

What a user does first: import it, ask which kernel level runs, train a small network and
run ``gradcore chapter5`` for a few epochs. Every kernel level the wheel carries and the
CPU has is then run in turn and compared with the naive level, so a wheel that lost a level
or picks one the CPU lacks fails here. Run by tools/wheel_smoke.sh and by cibuildwheel
(``test-command`` in pyproject.toml).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np


def main() -> int:
    import gradcore
    from gradcore import _core
    from gradcore.datasets import mnist_first_1000

    where = pathlib.Path(gradcore.__file__).resolve().parent
    print(f"gradcore {gradcore.__version__} from {where}, kernel level "
          f"{gradcore.kernel_level()}")
    if "site-packages" not in where.parts:
        raise SystemExit(f"gradcore was imported from {where}, not from an installed wheel")

    X, y = mnist_first_1000()
    result = gradcore.train([784, 30, 10], X[:500], y[:500], epochs=3, batch_size=10,
                            eta=0.5, seed=0)
    accuracy = result.network.accuracy(X[500:], y[500:])
    print(f"3 epochs on 500 images: accuracy {accuracy:.3f} on the next 500")
    if not accuracy > 0.5:  # chance is 0.1; these settings reach about 0.8
        raise SystemExit(f"training did not learn: accuracy {accuracy}")

    # Every level up to the best one this CPU runs gives the naive level's numbers (within
    # rounding: the levels sum in different orders).
    best = _core.KERNEL_LEVELS.index(gradcore.kernel_level())
    speeds = {}
    for level in _core.KERNEL_LEVELS[:best + 1]:
        _core.set_kernel_level(level)
        net = gradcore.Network([784, 30, 30, 10], seed=1)
        speeds[level] = net.learning_speeds(X, y)
    _core.set_kernel_level(None)
    for level, s in speeds.items():
        print(f"  level {level:<8} speeds {np.array2string(s, precision=4)}")
        np.testing.assert_allclose(s, speeds["naive"], rtol=1e-10)
    if best < 1:
        raise SystemExit("the wheel carries only the naive kernels")

    with tempfile.TemporaryDirectory() as out:
        # the console script installed beside this interpreter, as a user types it
        script = pathlib.Path(sys.executable).parent / "gradcore"
        cmd = [str(script), "chapter5", "--epochs", "5", "--out", out]
        subprocess.run(cmd, check=True, cwd=out, env={**os.environ, "MPLBACKEND": "Agg"})
        written = sorted(p.name for p in pathlib.Path(out).iterdir())
        print("chapter5 wrote", ", ".join(written))
        for name in ("chapter5.json", "speeds_4_hidden.csv", "speeds_4_hidden.png"):
            if name not in written:
                raise SystemExit(f"gradcore chapter5 did not write {name}")
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
