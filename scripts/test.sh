#!/usr/bin/env bash
# The test command of the README and of CI. It installs what the tests need (idempotent: only
# missing packages are installed), then runs every test of the workspace. Needs Rust; on a
# Debian/Ubuntu machine it installs the real datasets with apt-get:
#   dataset-fashion-mnist      Fashion-MNIST (closed-set experiments, IDX reader on real files)
#   fonts-*                    the CJK fonts of the glyph-identities benchmark (DATASETS.md §3.1)
# Tests that need data print "skipped: ..." when it is absent; ANGLEGRAD_REQUIRE_DATA=1 (set
# here by default) turns that into a failure, so CI proves the data paths really ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

packages=(dataset-fashion-mnist fonts-arphic-ukai fonts-arphic-uming fonts-wqy-zenhei
  fonts-wqy-microhei fonts-noto-cjk fonts-noto-cjk-extra fonts-hanazono fonts-lxgw-wenkai
  fonts-smiley-sans fonts-unifont)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing test data packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: no apt-get; data tests will be skipped (missing: ${missing[*]})" >&2
    export ANGLEGRAD_REQUIRE_DATA=${ANGLEGRAD_REQUIRE_DATA:-0}
  fi
fi
export ANGLEGRAD_REQUIRE_DATA=${ANGLEGRAD_REQUIRE_DATA:-1}

# NVRTC for the CUDA compile test (kernels/tests/cuda_compile.rs): every kernel is compiled to
# PTX for Ampere and Hopper, which needs libnvrtc but no GPU. It comes from the PyPI wheel
# nvidia-cuda-nvrtc, installed once into .venv-nvrtc/ (ignored by git). Pinned to CUDA 13.0:
# its PTX also loads on every 13.x driver, so the same library serves a GPU machine.
# ANGLEGRAD_REQUIRE_NVRTC=1 makes a missing libnvrtc a test failure instead of a skip.
nvrtc_venv=.venv-nvrtc
nvrtc_wheel="nvidia-cuda-nvrtc==13.0.*"
nvrtc_dir() { ls -d "$PWD/$nvrtc_venv"/lib/python3*/site-packages/nvidia/cu*/lib 2>/dev/null | head -n 1; }
if [ -z "$(nvrtc_dir)" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      echo "installing python3-venv (for the NVRTC wheel)"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
    fi
  fi
  echo "installing $nvrtc_wheel into $nvrtc_venv/"
  python3 -m venv "$nvrtc_venv" &&
    "$nvrtc_venv/bin/pip" install -q --disable-pip-version-check "$nvrtc_wheel" ||
    echo "warning: could not install $nvrtc_wheel; the NVRTC compile test will fail" >&2
fi
if [ -n "$(nvrtc_dir)" ]; then
  export ANGLEGRAD_NVRTC_LIB=${ANGLEGRAD_NVRTC_LIB:-$(nvrtc_dir)}
fi
export ANGLEGRAD_REQUIRE_NVRTC=${ANGLEGRAD_REQUIRE_NVRTC:-1}

# The CUDA parity table (tests/cuda_parity.rs) runs on the GPU where there is one; on a
# machine without, ANGLEGRAD_CUDA_EMULATOR=1 runs it on the CPU emulation of the kernels,
# which the host C++ compiler builds (kernels/src/cuda/emulator.rs).
if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing g++ (for the CUDA kernels' CPU emulation)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
fi
export ANGLEGRAD_CUDA_EMULATOR=${ANGLEGRAD_CUDA_EMULATOR:-1}

cargo test --workspace --all-targets
cargo test --workspace --doc
