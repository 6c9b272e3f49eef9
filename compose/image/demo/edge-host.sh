#!/usr/bin/env bash
# An edge host of the demo: a service the clients of its network use, and zflow-probe capturing
# on that network's interface (probe-entrypoint.sh; its arguments are this script's).
#   EDGE_SERVICE=web   python3 http.server on port 80 with a few files
#   EDGE_SERVICE=dns   dnsmasq answering for demo.zflow on port 53
#   EDGE_SERVICE=none  only the probe
# SIGTERM stops the probe first (it exports its flows as ended and waits for the collector's
# acknowledgements), then the service.
set -euo pipefail
service_pid=""
case "${EDGE_SERVICE:-none}" in
  web)
    mkdir -p /srv/www/files
    for i in 1 2 3 4; do head -c $((i * 20000)) /dev/urandom | base64 >"/srv/www/files/report$i.txt"; done
    head -c 300000 /dev/urandom >/srv/www/files/tool.bin  # nDPI flags binary downloads
    printf '<html><body><h1>edge host %s</h1></body></html>\n' "$(hostname)" >/srv/www/index.html
    python3 -m http.server 80 --directory /srv/www >/dev/null 2>&1 &
    service_pid=$!
    ;;
  dns)
    dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --port=53 --no-resolv \
      --no-hosts --address=/demo.zflow/10.53.0.1 --address=/www.demo.zflow/10.53.0.80 \
      --mx-host=demo.zflow,mail.demo.zflow,10 --txt-record=demo.zflow,"zflow demo" &
    service_pid=$!
    ;;
  none) ;;
  *) echo "edge-host: unknown EDGE_SERVICE ${EDGE_SERVICE}" >&2; exit 2 ;;
esac

/usr/local/bin/probe-entrypoint.sh "$@" &
probe_pid=$!
stop() {
  kill -TERM "$probe_pid" 2>/dev/null || true
  wait "$probe_pid" 2>/dev/null || true
  [ -z "$service_pid" ] || kill -TERM "$service_pid" 2>/dev/null || true
  exit 0
}
trap stop TERM INT
# either one ending ends the container (the engine restarts it if so configured)
set +e
if [ -n "$service_pid" ]; then wait -n "$probe_pid" "$service_pid"; else wait "$probe_pid"; fi
rc=$?
echo "edge-host: a process exited ($rc), stopping" >&2
kill -TERM "$probe_pid" ${service_pid:+"$service_pid"} 2>/dev/null
exit "$rc"
