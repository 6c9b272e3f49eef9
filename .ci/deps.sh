#!/usr/bin/env bash
# Installs every Debian 12 package zflow needs to build, test, benchmark and run its demo.
# The one place the package list lives; README commands and .ci/run call this.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  protobuf-c-compiler libprotobuf-c-dev
  libzmq3-dev libczmq-dev
  liblua5.4-dev lua5.4 lua-dkjson lua-cjson
  libpcap-dev libndpi-dev
  libsqlite3-dev sqlite3
  libyajl-dev
  libsnmp-dev nettle-dev
)
TEST_PKGS=(
  python3 iproute2 tcpreplay tcpdump wireshark-common tshark
  snmpd snmp bsdutils procps util-linux curl dnsutils
  softflowd nfdump pmacct dnsmasq-base time
  podman podman-compose runc buildah debootstrap golang-github-containernetworking-plugin-dnsname
  systemd
)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
