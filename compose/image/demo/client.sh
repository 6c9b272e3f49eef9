#!/usr/bin/env bash
# Traffic of a demo client: real requests, forever.
#   client.sh web HOST   curl: pages, text files, missing pages, now and then a burst with a
#                        binary download
#   client.sh dns HOST   dig: A, AAAA, MX and TXT queries, names that exist and names that do not
set -uo pipefail
trap 'exit 0' TERM INT  # PID 1 of its container: stop at once
kind=${1:?web or dns}
host=${2:?server host name}
for _ in $(seq 60); do getent hosts "$host" >/dev/null && break; sleep 1; done
echo "client: $kind traffic to $host ($(getent hosts "$host" | awk '{print $1}'))"
n=0
while :; do
  n=$((n + 1))
  case "$kind" in
    web)
      curl -s -o /dev/null --max-time 5 "http://$host/" || true
      curl -s -o /dev/null --max-time 5 "http://$host/files/report$((n % 4 + 1)).txt" || true
      [ $((n % 5)) -eq 0 ] && { curl -s -o /dev/null --max-time 5 "http://$host/missing-$n" || true; }
      if [ $((n % 30)) -eq 0 ]; then
        for i in 1 2 3 4; do curl -s -o /dev/null --max-time 5 "http://$host/files/report$i.txt" & done
        curl -s -o /dev/null --max-time 5 "http://$host/files/tool.bin" &
        wait
      fi
      ;;
    dns)
      dig +short +tries=1 +time=1 "@$host" "host$((n % 50)).demo.zflow" A >/dev/null || true
      dig +short +tries=1 +time=1 "@$host" www.demo.zflow AAAA >/dev/null || true
      [ $((n % 3)) -eq 0 ] && { dig +short +tries=1 +time=1 "@$host" demo.zflow MX >/dev/null || true; }
      [ $((n % 7)) -eq 0 ] && { dig +short +tries=1 +time=1 "@$host" demo.zflow TXT >/dev/null || true; }
      [ $((n % 4)) -eq 0 ] && { dig +short +tries=1 +time=1 "@$host" "nothing-$n.example" A >/dev/null || true; }
      ;;
    *) echo "client: unknown kind $kind" >&2; exit 2 ;;
  esac
  sleep "${CLIENT_PAUSE:-0.5}" &
  wait $!
done
