"""The kernels built in other configurations than the installed one, checked stand-alone.

tests/kernel_driver.c runs gradients and SGD epochs at every kernel level of its build that
the CPU runs and compares each with the naive level, then checks that 1 to 4 threads give
the same bits. tests/CMakeLists.txt builds it with the C core of this source tree
(cmake/kernels.cmake, as the Python module is built) as: the default build with GCC and with
Clang, without the vector extensions (GRADCORE_VECTOR_EXT=OFF: what a compiler such as MSVC
gets, the naive level only), without the x86 levels (the portable level alone, also for
plain x86-64 SSE2), without threads (GRADCORE_THREADS=OFF: every call on its caller's
thread, as with MSVC), with ThreadSanitizer (the pool, also with three callers at once),
and, when a cross compiler and qemu-user are installed, for aarch64
and for an emulated x86-64 CPU without AVX (the default build, whose run-time dispatch must
fall back to the portable level). Skipped without cmake, the compiler or the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "tests" / "CMakeLists.txt"

AARCH64 = ["-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64"]
NO_X86 = ["-DGRADCORE_X86_LEVELS=OFF"]
# name: (compiler, CMake options, runner, the best level the driver must report: 0 naive,
# 1 portable, None: the best this CPU runs)
VARIANTS = {
    "gcc": ("gcc", [], [], None),
    "clang": ("clang", [], [], None),
    "gcc-no-vector-ext": ("gcc", ["-DGRADCORE_VECTOR_EXT=OFF"], [], 0),
    "clang-no-vector-ext": ("clang", ["-DGRADCORE_VECTOR_EXT=OFF"], [], 0),
    "gcc-no-x86-levels": ("gcc", NO_X86, [], 1),
    "gcc-no-x86-levels-sse2": ("gcc", [*NO_X86, "-DCMAKE_C_FLAGS=-march=x86-64 -mtune=generic"],
                               [], 1),
    "gcc-no-threads": ("gcc", ["-DGRADCORE_THREADS=OFF"], [], None),
    # the pool under ThreadSanitizer: a data race in it fails the run (TSAN_OPTIONS below)
    "gcc-thread-sanitizer": ("gcc", ["-DCMAKE_C_FLAGS=-fsanitize=thread -g",
                                     "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread"], [], None),
    "aarch64": ("aarch64-linux-gnu-gcc", AARCH64,
                ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"], 1),
    # the default build on an emulated x86-64 without AVX: run-time dispatch must fall back
    "gcc-no-avx-cpu": ("gcc", [], ["qemu-x86_64", "-cpu", "Nehalem"], 1),
}
X86_ONLY = ("gcc-no-x86-levels-sse2", "gcc-no-avx-cpu")


def _clean_env() -> dict[str, str]:
    # the tools and the driver are plain programs: keep a sanitizer runtime preloaded for
    # the test process (tools/sanitize.sh) out of them and out of qemu; a ThreadSanitizer
    # build stops at its first report, with a failing exit code
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["TSAN_OPTIONS"] = "halt_on_error=1:exitcode=66"
    return env


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_build_variant_matches_naive(variant, tmp_path):
    cc, options, runner, want_level = VARIANTS[variant]
    needs = [t for t in ("cmake", cc, *runner[:1]) if shutil.which(t) is None]
    if needs or not PROJECT.exists():
        pytest.skip(f"needs {', '.join(needs) or 'the source tree'}")
    env = _clean_env()
    if variant in X86_ONLY and "x86_64" not in subprocess.run(
            [cc, "-dumpmachine"], capture_output=True, text=True, env=env).stdout:
        pytest.skip("x86-64 only")
    build = tmp_path / "build"
    configure = subprocess.run(
        ["cmake", "-S", str(PROJECT.parent), "-B", str(build), f"-DCMAKE_C_COMPILER={cc}",
         "-DCMAKE_BUILD_TYPE=Release", "-DGRADCORE_WERROR=ON", *options],
        capture_output=True, text=True, env=env)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    made = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True,
                          text=True, env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    run = subprocess.run([*runner, str(build / "kernel_driver")], capture_output=True,
                         text=True, timeout=600, env=env)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stdout + run.stderr
    best = int(run.stdout.split()[1])
    assert run.stdout.count(f"level {best} threads") == 2
    compared = [int(line.split()[1]) for line in run.stdout.splitlines()
                if line.startswith("level ") and " f64 " in line]
    # every level up to the best, each against naive: for the sigmoid net with SGD, then
    # for the PReLU + tanh + softmax net with Nesterov, clipping and dropout
    assert compared == 2 * list(range(best + 1))
    # 1 to 4 threads, the same bits (without threads: 1 thread whatever is asked)
    counts = [int(line.split()[2].strip("()")) for line in run.stdout.splitlines()
              if line.startswith("threads ")]
    assert counts == 2 * ([1, 1, 1, 1] if variant.endswith("no-threads") else [1, 2, 3, 4])
    assert run.stdout.count("callers 3 same") == 2  # three callers at once, the same bits
    if want_level is not None:
        assert best == want_level
    else:  # run natively: a build with vector extensions has the portable level at least
        assert best >= 1
