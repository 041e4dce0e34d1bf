#!/usr/bin/env bash
# Installs everything adaseg needs on a fresh Debian (bookworm) machine, then builds it:
#   system packages (libtorch, a fast BLAS, the PyTorch reference peer), npm packages, the
#   native addon and the TypeScript. Safe to run again.
# With LIBTORCH=/path/to/libtorch set, the Debian libtorch is not installed and the addon is
# built against that one instead (e.g. a CUDA build).
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(
  libopenblas0-pthread     # fast BLAS behind libblas.so.3 (the reference BLAS is ~30x slower)
  python3-torch            # the PyTorch reference peer: fixtures and benchmarks
  python3-torchvision
  chromium                 # the annotation studio's browser tests (playwright-core drives it)
)
if [ -z "${LIBTORCH:-}" ]; then
  packages+=(libtorch-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# OpenBLAS with pthreads measured faster than its OpenMP build beside libtorch's OpenMP threads
# (BENCHMARKS.md); make it the libblas.so.3 that libtorch loads.
blas=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
if [ -e "$blas" ]; then
  as_root update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas" >/dev/null
fi

echo "setup: npm ci (builds the native addon)"
npm ci --no-audit --no-fund
echo "setup: building TypeScript"
npm run build
echo "setup: done. Run the tests with: npm test"
