#!/usr/bin/env bash
# Installs the packages zflow builds with: BUILD_PKGS of .ci/deps.sh (the one list), without
# what only the tests and the fuzz build use (clang, its runtime, git).
# Usage: build-packages.sh PATH/TO/.ci/deps.sh
set -euo pipefail
eval "$(sed -n '/^BUILD_PKGS=(/,/^)/p' "${1:?path to .ci/deps.sh}")"
[ "${#BUILD_PKGS[@]}" -gt 0 ] || { echo "build-packages: no BUILD_PKGS in $1" >&2; exit 1; }
pkgs=()
for p in "${BUILD_PKGS[@]}"; do
  case "$p" in clang | libclang-rt-* | git) ;; *) pkgs+=("$p") ;; esac
done
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
rm -rf /var/lib/apt/lists/*
