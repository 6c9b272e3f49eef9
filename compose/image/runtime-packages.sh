#!/usr/bin/env bash
# Prints the Debian packages holding the shared libraries the given programs link (ldd), one per
# line: what the runtime image installs. Fails if a library belongs to no package.
set -euo pipefail
for bin in "$@"; do
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
  real=$(readlink -f "$lib")
  # Debian 12 is merged-/usr: a file may be registered under /lib or /usr/lib
  pkg=""
  for path in "$lib" "$real" "/usr$lib" "${lib#/usr}" "${real#/usr}"; do
    pkg=$(dpkg-query -S "$path" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
  done
  [ -n "$pkg" ] || { echo "runtime-packages: no package holds $lib" >&2; exit 1; }
  echo "$pkg"
done | sort -u
