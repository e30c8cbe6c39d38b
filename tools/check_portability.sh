#!/usr/bin/env bash
# Build the C kernels for CPUs this machine is not, and run tools/kernel_selfcheck.c on them
# under user-mode emulation: aarch64 (portable level only) and an x86-64 CPU without AVX
# (Nehalem: the dispatcher must fall back to the portable level). Needs Debian's
# gcc-aarch64-linux-gnu and qemu-user; installs them when run as root with apt.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if ! { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }; then
      echo "check_portability: skipped, could not install ${need[*]}" >&2
      exit 0
    fi
  else
    echo "check_portability: skipped, missing ${need[*]}" >&2
    exit 0
  fi
fi

out="$(mktemp -d)"
flags=(-O2 -std=gnu99 -fopenmp-simd -Wall -Wextra -Isrc tools/kernel_selfcheck.c src/kernels.c -lm -static)
aarch64-linux-gnu-gcc "${flags[@]}" -o "$out/selfcheck-aarch64"
gcc "${flags[@]}" -o "$out/selfcheck-x86_64"

echo "== aarch64 (qemu)"
qemu-aarch64 "$out/selfcheck-aarch64" | tail -n 1
echo "== x86-64 without AVX (qemu -cpu Nehalem)"
qemu-x86_64 -cpu Nehalem "$out/selfcheck-x86_64" | tail -n 1
echo "== this CPU"
"$out/selfcheck-x86_64" | tail -n 1
