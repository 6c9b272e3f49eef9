#!/usr/bin/env bash
# Builds the Debian 12 base image of the compose demo without any image registry: debootstrap
# (minbase) from the Debian mirror this host's apt uses, then `import` into podman and/or docker
# under the tag the Dockerfiles start FROM (localhost/zflow-debian:12).
#
# The root filesystem tarball is cached in build/compose/ (not in git), so later runs, or an
# import into the other engine, take seconds. Needs root (debootstrap) and the debootstrap package.
#
# Usage: compose/build-base-image.sh [--engine podman|docker|both] [--mirror URL] [--rebuild]
#   --engine   where to import the image (default: podman if installed, else docker)
#   --mirror   Debian mirror (default: the one apt uses for bookworm here, else deb.debian.org);
#              the image's apt sources point at the same mirror (and its security mirror)
#   --rebuild  debootstrap again even if the cached tarball exists, and re-import
# Environment: ZFLOW_BASE_TAG (default localhost/zflow-debian:12), ZFLOW_BASE_CACHE (cache dir).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAG=${ZFLOW_BASE_TAG:-localhost/zflow-debian:12}
CACHE=${ZFLOW_BASE_CACHE:-$ROOT/build/compose}
SUITE=bookworm
ENGINE=""
MIRROR=""
REBUILD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) ENGINE=${2:?--engine needs podman, docker or both}; shift 2 ;;
    --mirror) MIRROR=${2:?--mirror needs a URL}; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-base-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "build-base-image: $*" >&2; }

if [ -z "$ENGINE" ]; then
  if command -v podman >/dev/null; then ENGINE=podman
  elif command -v docker >/dev/null; then ENGINE=docker
  else say "neither podman nor docker is installed"; exit 1
  fi
fi
case "$ENGINE" in
  podman) ENGINES=(podman) ;;
  docker) ENGINES=(docker) ;;
  both) ENGINES=(podman docker) ;;
  *) say "--engine must be podman, docker or both"; exit 2 ;;
esac

# The mirrors apt uses here for bookworm and bookworm-security (deb822 or one-line sources).
apt_site() {
  command -v apt-get >/dev/null || return 0
  apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
    awk -v rel="$1" '$2 == rel && $3 == "deb" { print $1; exit }'
}
[ -n "$MIRROR" ] || MIRROR=$(apt_site "$SUITE")
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
SECURITY=$(apt_site "$SUITE-security")
if [ -z "$SECURITY" ]; then
  case "$MIRROR" in
    */debian) SECURITY="${MIRROR%/debian}/debian-security" ;;
  esac
fi

TARBALL=$CACHE/zflow-debian-12-rootfs.tar
image_exists() { "$1" image inspect "$TAG" >/dev/null 2>&1; }

if [ "$REBUILD" = 0 ]; then
  all=1
  for e in "${ENGINES[@]}"; do image_exists "$e" || all=0; done
  if [ "$all" = 1 ]; then
    say "$TAG already present in ${ENGINES[*]} (--rebuild to rebuild it)"
    exit 0
  fi
fi

if [ "$REBUILD" = 1 ] || [ ! -s "$TARBALL" ]; then
  [ "$(id -u)" -eq 0 ] || { say "debootstrap needs root: run it as root or with sudo"; exit 1; }
  command -v debootstrap >/dev/null || { say "install debootstrap (apt-get install debootstrap)"; exit 1; }
  mkdir -p "$CACHE"
  DIR=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$DIR" "$TARBALL.tmp"' EXIT
  say "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes, once)"
  start=$(date +%s)
  debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    say "debootstrap failed, see $CACHE/debootstrap.log:"; tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }

  # apt inside the image uses the same mirror as this host.
  rm -f "$DIR/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$MIRROR" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$SECURITY" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$SECURITY" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$DIR/etc/apt/sources.list.d/debian.sources"
  cat >"$DIR/etc/apt/apt.conf.d/90zflow-container" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
EOF
  # what the container engine provides, or what must not be shared between containers
  rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* "$DIR"/tmp/* \
         "$DIR"/var/log/*.log
  rm -f "$DIR/etc/resolv.conf" "$DIR/etc/hostname"
  : >"$DIR/etc/machine-id"
  tar --numeric-owner --xattrs -C "$DIR" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$DIR"
  trap - EXIT
  say "root filesystem cached in $TARBALL ($(du -h "$TARBALL" | cut -f1), $(( $(date +%s) - start )) s)"
else
  say "using the cached root filesystem $TARBALL"
fi

for e in "${ENGINES[@]}"; do
  command -v "$e" >/dev/null || { say "$e is not installed"; exit 1; }
  "$e" import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    "$TARBALL" "$TAG" >/dev/null
  say "imported into $e as $TAG"
done
