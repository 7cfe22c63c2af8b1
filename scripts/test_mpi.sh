#!/usr/bin/env bash
# The MPI tests of the distributed training code (train/src/distributed), as 2 processes on this
# machine. Installs what they need when it is missing (idempotent: only missing packages):
#   libopenmpi-dev openmpi-bin   OpenMPI: the library the `mpi` feature links, and mpirun
#   libclang-dev                 libclang, which rsmpi's build (bindgen) loads to read mpi.h
# then runs `cargo test -p anglegrad-train --features mpi --test distributed_mpi`; that test
# binary starts itself under `mpirun -np 2` (ANGLEGRAD_MPI_RANKS=N for another count) and ends
# with "distributed_mpi: N passed, M failed". The default build and `cargo test --workspace`
# need none of this: the `mpi` feature is off by default.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(libopenmpi-dev openmpi-bin libclang-dev)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the MPI tests need ${missing[*]} (OpenMPI and libclang), and there is no apt-get" >&2
    exit 1
  fi
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing the MPI test packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# OpenMPI refuses to start as root unless told; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo test -p anglegrad-train --features mpi --test distributed_mpi
