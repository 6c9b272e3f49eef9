#!/usr/bin/env bash
# Replays the demo scenario on this container's network with tcpreplay, every REPLAY_PAUSE
# seconds: scenario.py pcap, written anew each round (a download from a blacklisted server, its
# DNS lookup, an unanswered SNMP query, a SYN scan). The frames go to the Ethernet broadcast
# address, so the bridge floods them to every container of the network, the probe's included.
set -euo pipefail
trap 'exit 0' TERM INT  # PID 1 of its container: stop at once
dir=$(dirname "$0")
iface=${REPLAY_IFACE:-$(ip -o route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)}
iface=${iface:-eth0}
echo "replay: $(tcpreplay --version 2>&1 | head -1) on $iface"
n=0
while :; do
  n=$((n + 1))
  python3 "$dir/scenario.py" pcap /tmp/scenario.pcap
  tcpreplay --quiet --intf1="$iface" /tmp/scenario.pcap >/dev/null 2>&1 ||
    echo "replay: tcpreplay failed (round $n)" >&2
  [ $((n % 20)) -eq 1 ] && echo "replay: round $n done"
  sleep "${REPLAY_PAUSE:-5}" &
  wait $!
done
