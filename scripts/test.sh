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

cargo test --workspace --all-targets
cargo test --workspace --doc
