#!/usr/bin/env bash
# Build gradcore with AddressSanitizer + UndefinedBehaviorSanitizer into a fresh virtual
# environment and run the whole test suite under them.
#
#   tools/sanitize.sh [pytest args...]
#
# CPython itself is not built with ASan, so the runtime is preloaded, and leak detection is
# off (CPython keeps interned objects alive on purpose). Skipped (tests/conftest.py): the
# tests marked memory_limits (ASan reserves terabytes of address space, so a child under
# RLIMIT_AS dies in ASan's own mmap, and its quarantine holds freed memory back by design,
# so peak and resident memory grow without a leak) and fork_with_busy_threads (ASan's
# allocator lock, unlike glibc malloc's, can stay held in a child forked while another
# thread allocates). Speed is not asserted in the default suite, so nothing else needs to go.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
python -m pip install ".[test]" -Ccmake.define.GRADCORE_SANITIZE=ON -Ccmake.build-type=Debug

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export GRADCORE_DATA="${GRADCORE_DATA:-$(cd .. && pwd)/shared/data/mnist}"
pytest -p no:cacheprovider "$@"
