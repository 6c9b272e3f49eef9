#!/usr/bin/env bash
# The collector container: zflow-collector with the given arguments, run as user zflow, its data
# in /var/lib/zflow (a volume), and every ZFLOW_REPORT_INTERVAL seconds (default 10, 0 = off) a
# per-probe status line on stdout, read from the collector's --status-file.
# SIGTERM/SIGINT stop the collector cleanly (it drains its queues and closes the alert store).
set -euo pipefail
DATA=${ZFLOW_DATA_DIR:-/var/lib/zflow}
STATUS=${ZFLOW_STATUS_FILE:-$DATA/status.json}
INTERVAL=${ZFLOW_REPORT_INTERVAL:-10}

if [ "$(id -u)" = 0 ]; then
  # a fresh volume may be root's: hand it to zflow, then drop every privilege
  mkdir -p "$DATA"
  chown -R zflow:zflow "$DATA"
  exec setpriv --reuid=zflow --regid=zflow --init-groups --inh-caps=-all --bounding-set=-all \
    --no-new-privs -- "$0" "$@"
fi

zflow-collector "$@" &
collector=$!
trap 'kill -TERM "$collector" 2>/dev/null || true' TERM INT

if [ "$INTERVAL" != 0 ]; then
  (
    while sleep "$INTERVAL"; do
      kill -0 "$collector" 2>/dev/null || exit 0
      if [ -s "$STATUS" ]; then lua5.4 /usr/local/bin/zflow-status.lua "$STATUS" || true; fi
    done
  ) &
  reporter=$!
fi

# wait returns early when a trapped signal arrives: wait again until the collector is gone
set +e
while :; do
  wait "$collector"
  rc=$?
  kill -0 "$collector" 2>/dev/null || break
done
if [ -n "${reporter:-}" ]; then kill "$reporter" 2>/dev/null; fi
exit "$rc"
