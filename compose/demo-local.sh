#!/usr/bin/env bash
# zflow demo on this host, no containers: installs the dependencies, builds, and runs a collector
# with three probes capturing live on the loopback interface while real clients (curl, dig) talk
# to real servers (python3 http.server, dnsmasq) and the demo scenario (compose/image/demo/
# scenario.py: a download from a blacklisted server, a SYN scan, ...) is replayed with tcpreplay;
# a Suricata stand-in sends Eve JSON about that scenario over syslog with logger, and the
# collector joins those IDS alerts with the probe's flows by Community ID. Prints a live summary;
# Ctrl-C (or --duration S) stops everything cleanly.
#
# Usage: compose/demo-local.sh [--duration SECONDS] [--no-build]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=0
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=${2:?--duration needs seconds}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "demo-local: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$BUILD" = 1 ]; then
  bash "$ROOT/.ci/deps.sh"
  cmake --preset release -S "$ROOT" >/dev/null
  cmake --build "$ROOT/build/release" -j "$(nproc)" >/dev/null
fi
BIN=$ROOT/build/release
PROBE=$BIN/probe/zflow-probe
COLLECTOR=$BIN/collector/zflow-collector
[ -x "$PROBE" ] && [ -x "$COLLECTOR" ] || { echo "demo-local: build first" >&2; exit 1; }

# Free loopback ports for the collector, the web server and the DNS server.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ZMQ_PORT=$(free_port); WEB_PORT=$(free_port); DNS_PORT=$(free_port); SYSLOG_PORT=$(free_port)
SCENARIO=$ROOT/compose/image/demo/scenario.py
WORK=$(mktemp -d /tmp/zflow-demo.XXXXXX)
DATA=$WORK/data
mkdir -p "$DATA" "$WORK/www"
PIDS=()

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo-local: stopping"
  local pid
  # probes first (they end their flows and wait for acknowledgements), then the rest
  for pid in "${PROBE_PIDS[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PROBE_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo-local: recent alerts:"
  "$COLLECTOR" --alerts 10 --data-dir "$DATA" || true
  echo "demo-local: data kept in $WORK (alerts.db, logs); remove it with: rm -rf $WORK"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Servers: a web server with a few files and a DNS server answering for demo.zflow.
for i in 1 2 3; do head -c $((i * 15000)) /dev/urandom | base64 > "$WORK/www/page$i.html"; done
(cd "$WORK/www" && exec python3 -m http.server "$WEB_PORT" --bind 127.0.0.1) \
  >"$WORK/http.log" 2>&1 &
PIDS+=($!)
dnsmasq --no-daemon --conf-file=/dev/null --port="$DNS_PORT" --listen-address=127.0.0.1 \
  --bind-interfaces --no-resolv --no-hosts --address=/demo.zflow/127.0.0.1 \
  --address=/www.demo.zflow/127.0.0.2 --pid-file="$WORK/dnsmasq.pid" >"$WORK/dns.log" 2>&1 &
PIDS+=($!)

# The collector, with the stock scripts; 127.0.0.0/8 is the local network.
"$COLLECTOR" --listen "tcp://127.0.0.1:$ZMQ_PORT" --installdir "$ROOT" --data-dir "$DATA" \
  --local-networks 127.0.0.0/8,10.99.0.0/24 --status-file "$WORK/status.json" \
  --syslog "tcp://127.0.0.1:$SYSLOG_PORT" --syslog "udp://127.0.0.1:$SYSLOG_PORT" \
  --control "ipc://$WORK/control" --summary-interval 0 \
  >"$WORK/collector.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/status.json" ] && break; sleep 0.1; done
[ -s "$WORK/status.json" ] || { echo "demo-local: collector did not start:" >&2; cat "$WORK/collector.log" >&2; exit 1; }

# Two probes on the loopback interface, each seeing one service (the collector's own port is
# never captured).
PROBE_PIDS=()
"$PROBE" -i lo -f "tcp port $WEB_PORT" -c "tcp://127.0.0.1:$ZMQ_PORT" --probe-id demo-web \
  --idle-timeout 10 --update-interval 15 >"$WORK/probe-web.log" 2>&1 &
PROBE_PIDS+=($!)
"$PROBE" -i lo -f "udp port $DNS_PORT" -c "tcp://127.0.0.1:$ZMQ_PORT" --probe-id demo-dns \
  --idle-timeout 10 >"$WORK/probe-dns.log" 2>&1 &
PROBE_PIDS+=($!)
"$PROBE" -i lo -f "net 10.99.0.0/24" -c "tcp://127.0.0.1:$ZMQ_PORT" --probe-id demo-office \
  --idle-timeout 10 >"$WORK/probe-office.log" 2>&1 &
PROBE_PIDS+=($!)
python3 "$SCENARIO" pcap "$WORK/scenario.pcap"

# Clients: curl and dig in a loop.
(
  n=0
  while :; do
    n=$((n + 1))
    curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/page$((n % 3 + 1)).html" || true
    dig +short +tries=1 +time=1 -p "$DNS_PORT" @127.0.0.1 "host$((n % 50)).demo.zflow" >/dev/null || true
    sleep 0.2
  done
) &
PIDS+=($!)

# The office scenario every 15 s: its packets on lo (seen by demo-office), then what an IDS
# watching it would report, as Suricata Eve JSON over syslog.
(
  while :; do
    tcpreplay -q -i lo --topspeed "$WORK/scenario.pcap" >/dev/null 2>&1 || true
    sleep 1
    python3 "$SCENARIO" eve |
      logger --server 127.0.0.1 --port "$SYSLOG_PORT" --tcp --octet-count -t suricata \
        --size 65536 || true
    sleep 14
  done
) &
PIDS+=($!)

cat <<INFO
zflow demo running: collector tcp://127.0.0.1:$ZMQ_PORT (syslog $SYSLOG_PORT), probes demo-web
(tcp/$WEB_PORT), demo-dns (udp/$DNS_PORT) and demo-office (the replayed scenario) on lo; clients
curl and dig; Suricata-style Eve events over syslog. Data and logs in $WORK.
Look further: $COLLECTOR --alerts 20 --data-dir $DATA
              $COLLECTOR --list-scripts --installdir $ROOT --data-dir $DATA
              $COLLECTOR --control ipc://$WORK/control --run-round min
Ctrl-C stops.
INFO

start=$(date +%s)
while :; do
  sleep 3
  python3 - "$WORK/status.json" <<'PY' || true
import json, sys
s = json.load(open(sys.argv[1]))
probes = s["registry"]["probes"]
hooks = sum(w["hook_calls"] for w in s["workers"])
alerts = sum(w["alerts"] for w in s["workers"])
active = sum(w["flows_active"] for w in s["workers"])
parts = ["%s %s %.1f flows/s lost %d" % (p["probe_id"], "up" if p["up"] else "DOWN",
         p["flows_per_s"], p["lost"]) for p in probes]
sl = s.get("syslog", {})
print("[%5.0fs] probes: %s | active flows %d | hook calls %d | flow alerts %d | syslog %d "
      "events, %d IDS alerts joined with probe flows"
      % (s["uptime_s"], "; ".join(parts) or "none yet", active, hooks, alerts,
         sl.get("received", 0), sl.get("attached", 0)))
PY
  echo "  recent alerts:"
  "$COLLECTOR" --alerts 3 --data-dir "$DATA" 2>/dev/null | tail -n +2 | cut -c1-150 | sed 's/^/    /'
  if [ "$DURATION" != 0 ] && [ $(( $(date +%s) - start )) -ge "$DURATION" ]; then
    break
  fi
done
