"""The kernels built in other configurations than the installed one, checked stand-alone.

tests/kernel_driver.c runs gradients and SGD epochs at the best kernel level of its build and
at the naive level and compares them. It is compiled here with src/kernels.c (from this
source tree) as: the default build, without the vector extensions (GC_NO_VECTOR_EXT: what a
compiler such as MSVC gets, naive loops only), without the x86 levels (GC_NO_DISPATCH: the
portable level alone), with OpenMP threads, and, when a cross compiler and qemu-user are
installed, for aarch64 and for an emulated x86-64 CPU without AVX (the default build, whose
runtime dispatch must fall back to the portable level). Skipped without gcc or the source
tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kernels.c"
DRIVER = ROOT / "tests" / "kernel_driver.c"
FLAGS = ["-O3", "-fopenmp-simd", "-std=gnu99", "-Wall", "-Wextra", "-Werror"]

VARIANTS = {
    "default": ("gcc", [], []),
    "no-vector-ext": ("gcc", ["-DGC_NO_VECTOR_EXT"], []),
    "no-dispatch": ("gcc", ["-DGC_NO_DISPATCH"], []),
    "no-dispatch-sse2": ("gcc", ["-DGC_NO_DISPATCH", "-march=x86-64", "-mtune=generic"], []),
    "openmp": ("gcc", ["-fopenmp"], []),
    "aarch64": ("aarch64-linux-gnu-gcc", [], ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]),
    # the default build on an emulated x86-64 without AVX: runtime dispatch must fall back
    "no-avx-cpu": ("gcc", [], ["qemu-x86_64", "-cpu", "Nehalem"]),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_build_variant_matches_naive(variant, tmp_path):
    cc, extra, runner = VARIANTS[variant]
    if not SRC.exists() or shutil.which(cc) is None or (runner and shutil.which(runner[0]) is None):
        pytest.skip(f"needs {cc}{' and ' + runner[0] if runner else ''} and the source tree")
    if variant in ("no-dispatch-sse2", "no-avx-cpu") and "x86_64" not in subprocess.run(
            [cc, "-dumpmachine"], capture_output=True, text=True).stdout:
        pytest.skip("x86-64 only")
    exe = tmp_path / "driver"
    build = subprocess.run([cc, *FLAGS, *extra, f"-I{SRC.parent}", str(SRC), str(DRIVER),
                            "-o", str(exe), "-lm"], capture_output=True, text=True)
    if variant == "openmp" and build.returncode != 0 and "omp" in build.stderr:
        pytest.skip("no OpenMP runtime for this compiler")
    assert build.returncode == 0, build.stderr
    # the driver is a plain program: keep a sanitizer runtime preloaded for the test process
    # (tools/sanitize.sh) out of it and out of qemu
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run = subprocess.run([*runner, str(exe)], capture_output=True, text=True, timeout=300,
                         env=env)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stdout + run.stderr
    level = int(run.stdout.split()[1])
    if variant in ("no-dispatch", "no-dispatch-sse2", "no-vector-ext", "aarch64", "no-avx-cpu"):
        assert level == 1  # the portable level only
