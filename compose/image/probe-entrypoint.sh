#!/usr/bin/env bash
# Runs zflow-probe on the container's capture interface: zflow-probe -i IFACE "$@".
# A container attached to several networks gets eth0, eth1, ... in an order the engine chooses,
# so the interface is picked by what it is connected to:
#   ZFLOW_CAPTURE_IFACE=NAME      this interface
#   ZFLOW_CAPTURE_SUBNET=CIDR     the interface with an IPv4 address in CIDR
#   otherwise                     the interface that does NOT lead to the collector
#                                 (ZFLOW_COLLECTOR_HOST, default "collector"): the probe
#                                 exports on the backbone and captures on its own network.
set -euo pipefail
COLLECTOR_HOST=${ZFLOW_COLLECTOR_HOST:-collector}
say() { echo "probe-entrypoint: $*" >&2; }

ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )); }
in_subnet() { # ADDR CIDR
  local net=${2%/*} len=${2#*/}
  local mask=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
  [ $(( $(ip2int "$1") & mask )) -eq $(( $(ip2int "$net") & mask )) ]
}
# "IFACE ADDR" for every global IPv4 address
addresses() { ip -o -4 addr show scope global | awk '{ split($4, a, "/"); sub(/@.*/, "", $2); print $2, a[1] }'; }

iface=${ZFLOW_CAPTURE_IFACE:-}
if [ -z "$iface" ] && [ -n "${ZFLOW_CAPTURE_SUBNET:-}" ]; then
  while read -r dev addr; do
    if in_subnet "$addr" "$ZFLOW_CAPTURE_SUBNET"; then iface=$dev; break; fi
  done < <(addresses)
  [ -n "$iface" ] || say "no interface in $ZFLOW_CAPTURE_SUBNET, falling back"
fi
resolve() { getent ahostsv4 "$1" | awk 'NR == 1 { print $1 }'; }
# podman's CNI network backend (dnsname plugin) gives a container on several networks one DNS
# server per network, each knowing only the containers of its own network, and the resolver
# stops at the first "no such name": put first the server that knows the collector. (netavark's
# aardvark-dns and Docker's resolver answer for all the networks of the container.)
reorder_resolvers() {
  local conf=/etc/resolv.conf orig ns
  orig=$(cat "$conf") || return 1
  mapfile -t servers < <(awk '$1 == "nameserver" { print $2 }' <<<"$orig")
  [ "${#servers[@]}" -gt 1 ] || return 1
  for ns in "${servers[@]}"; do
    {
      grep -v '^nameserver' <<<"$orig" || true
      echo "nameserver $ns"
      grep '^nameserver' <<<"$orig" | grep -vx "nameserver $ns" || true
    } >"$conf" 2>/dev/null || return 1
    if [ -n "$(resolve "$COLLECTOR_HOST")" ]; then
      say "DNS server $ns knows $COLLECTOR_HOST: moved first in $conf"
      return 0
    fi
  done
  echo "$orig" >"$conf"
  return 1
}

if [ -z "$iface" ]; then
  collector_ip=""
  for _ in $(seq 120); do
    collector_ip=$(resolve "$COLLECTOR_HOST") || true
    if [ -z "$collector_ip" ] && reorder_resolvers; then
      collector_ip=$(resolve "$COLLECTOR_HOST") || true
    fi
    [ -n "$collector_ip" ] && break
    sleep 1
  done
  [ -n "$collector_ip" ] || { say "cannot resolve $COLLECTOR_HOST"; exit 1; }
  backbone=$(ip -o route get "$collector_ip" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  mapfile -t others < <(addresses | awk -v b="$backbone" '$1 != b { print $1 }' | sort -u)
  case "${#others[@]}" in
    0) iface=$backbone; say "only one network: capturing on $iface, the collector's too" ;;
    1) iface=${others[0]} ;;
    *) iface=${others[0]}; say "several capture candidates (${others[*]}), taking $iface" ;;
  esac
  say "collector $COLLECTOR_HOST is $collector_ip via ${backbone:-?}"
fi
say "capturing on $iface ($(addresses | awk -v i="$iface" '$1 == i { print $2 }' | tr '\n' ' '))"
exec zflow-probe -i "$iface" "$@"
