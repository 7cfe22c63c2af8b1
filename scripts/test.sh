#!/usr/bin/env bash
# The test command of the README and of CI: installs what the tests need (idempotent), then
# runs the whole workspace's tests. Safe to run again; needs only Rust on a fresh machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

cargo test --workspace --all-targets
cargo test --workspace --doc
