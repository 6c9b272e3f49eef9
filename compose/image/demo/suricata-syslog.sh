#!/usr/bin/env bash
# A Suricata stand-in: every EVE_INTERVAL seconds it sends the Eve JSON events of the demo
# scenario (scenario.py eve: alerts, flow, http, dns and stats records whose 5-tuples and
# Community IDs match the traffic replayed on net-c) to the collector with logger, over TCP
# syslog, app name "suricata" (so the collector runs scripts/callbacks/syslog/suricata.lua).
set -uo pipefail
trap 'exit 0' TERM INT  # PID 1 of its container: stop at once
dir=$(dirname "$0")
host=${SYSLOG_HOST:-collector}
port=${SYSLOG_PORT:-5514}
for _ in $(seq 60); do getent hosts "$host" >/dev/null && break; sleep 1; done
echo "suricata-syslog: sending Eve events to $host:$port/tcp every ${EVE_INTERVAL:-10} s"
n=0
while :; do
  n=$((n + 1))
  if python3 "$dir/scenario.py" eve |
     logger --server "$host" --port "$port" --tcp --tag suricata --size 65536; then
    [ $((n % 10)) -eq 1 ] && echo "suricata-syslog: round $n sent"
  else
    echo "suricata-syslog: round $n not sent (collector down?)" >&2
  fi
  sleep "${EVE_INTERVAL:-10}" &
  wait $!
done
