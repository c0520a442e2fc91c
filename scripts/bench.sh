#!/usr/bin/env bash
# `make bench`: Estuary's throughput, measured in one run on this machine against the peers
# a user would pick instead. Loopback only; every process it starts is stopped at the end.
#   1. decode to line protocol on one core (estuary-bench, in-process)
#   2. graphite over TCP (8 connections) -> line protocol to a counting HTTP sink, against
#      carbon-c-relay relaying the same lines to a counting TCP sink
#   3. collectd datagrams over UDP at rising rates into Estuary, against InfluxDB 1.6.7's own
#      [[collectd]] listener: the highest rate with zero loss for each
#   4. the SNMP poller: 10,000 simulated 48-port switches every 60 s, healthy and with a bad
#      mix, against a poller made of net-snmp's tools (scripts/bench-snmp.sh; ~12 minutes)
# Figures go to stdout; Docs/performance.md records a run with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=Tests/EstuaryWireTests/Fixtures/collectd
release=.build/release
work=$(mktemp -d /tmp/estuary-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

swift build -c release --product estuary >/dev/null
swift build -c release --product estuary-bench >/dev/null
swift build -c release --product estuary-loadtools >/dev/null
tools=$release/estuary-loadtools

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_seconds() { awk '{printf "%.2f\n", ($14+$15)/100}' "/proc/$1/stat"; }  # utime+stime, clock ticks of 1/100 s
rss_mb() { awk '/VmHWM/{printf "%.0f\n", $2/1024}' "/proc/$1/status"; }
sink_lines() { cut -d' ' -f1 "$1" 2>/dev/null || echo 0; }
wait_lines() {  # file target timeout_s
  local end=$((SECONDS + $3))
  while [ "$(sink_lines "$1")" -lt "$2" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
}

# Both UDP receivers get the same socket buffer; the kernel caps it at net.core.rmem_max,
# which this raises when it may (as an operator would, see Docs/operations.md).
udp_buffer=$((64 << 20))
if [ "$(sysctl -n net.core.rmem_max)" -lt "$udp_buffer" ]; then
  sysctl -qw net.core.rmem_max=$udp_buffer 2>/dev/null || echo "note: cannot raise net.core.rmem_max; UDP buffers stay at $(sysctl -n net.core.rmem_max) bytes"
fi

sections=${BENCH_SECTIONS:-"1 2 3 4"}
if [[ " $sections " == *" 1 "* ]]; then
echo "== 1. decode to line protocol, one core =="
$release/estuary-bench $fixtures "${BENCH_SECONDS:-3}"
fi

# Estuary, writing to a counting HTTP sink (no gzip, so the sink only counts newlines).
sink_port=$(free_port); graphite_port=$(free_port); collectd_port=$(free_port)
$tools http-sink "$sink_port" "$work/http.stats" & pids+=($!)
cat > "$work/estuary.toml" <<CONF
data_dir = "$work"
log_level = "warning"
metrics_interval = "1h"
batch_lines = 5000
[[inputs.graphite]]
listen_tcp = "127.0.0.1:$graphite_port"
types_db = ["$PWD/$fixtures/types.db"]
[[inputs.collectd]]
listen = "127.0.0.1:$collectd_port"
types_db = ["$PWD/$fixtures/types.db"]
read_buffer = $udp_buffer
[[outputs.influxdb]]
url = "http://127.0.0.1:$sink_port"
gzip = false
create_database = false
queue_size = "1GiB"
# The benchmark measures the relay, not the disk: keep the backlog of an overload in memory,
# as the figures in Docs/performance.md were measured (the spool is used past spool_memory).
spool_memory = "1GiB"
CONF
$release/estuary run --config "$work/estuary.toml" 2>"$work/estuary.log" & estuary=$!; pids+=($estuary)
sleep 1

if [[ " $sections " == *" 2 "* ]]; then
echo
echo "== 2. graphite over TCP, 8 connections -> line protocol (Estuary) / carbon relaying (carbon-c-relay) =="
lines_per_connection=${GRAPHITE_LINES:-500000}
total=$((8 * lines_per_connection))
cpu0=$(cpu_seconds $estuary); t0=$(date +%s.%N)
$tools graphite-load "$graphite_port" 8 "$lines_per_connection" >/dev/null
wait_lines "$work/http.stats" "$total" 120
t1=$(date +%s.%N); cpu1=$(cpu_seconds $estuary)
delivered=$(sink_lines "$work/http.stats")
estuary_cpu=$(echo "$cpu1 - $cpu0" | bc -l); estuary_wall=$(echo "$t1 - $t0" | bc -l)
estuary_rate=$(echo "$delivered / $estuary_cpu" | bc -l)
printf "estuary:         %d/%d lines delivered in %.2f s wall, %.2f CPU-s: %.0f lines/CPU-s, %.0f lines/s, peak RSS %s MiB\n" \
  "$delivered" "$total" "$estuary_wall" "$estuary_cpu" "$estuary_rate" "$(echo "$delivered / $estuary_wall" | bc -l)" "$(rss_mb $estuary)"

tcp_sink_port=$(free_port); relay_port=$(free_port)
$tools tcp-sink "$tcp_sink_port" "$work/tcp.stats" & pids+=($!)
cat > "$work/relay.conf" <<CONF
cluster sink forward 127.0.0.1:$tcp_sink_port;
match * send to sink;
CONF
carbon-c-relay -f "$work/relay.conf" -p "$relay_port" -s -q 10000000 -l "$work/relay.log" & relay=$!; pids+=($relay)
sleep 1
cpu0=$(cpu_seconds $relay); t0=$(date +%s.%N)
$tools graphite-load "$relay_port" 8 "$lines_per_connection" >/dev/null
wait_lines "$work/tcp.stats" "$total" 120
t1=$(date +%s.%N); cpu1=$(cpu_seconds $relay)
relayed=$(sink_lines "$work/tcp.stats")
relay_cpu=$(echo "$cpu1 - $cpu0" | bc -l); relay_wall=$(echo "$t1 - $t0" | bc -l)
relay_rate=$(echo "$relayed / $relay_cpu" | bc -l)
printf "carbon-c-relay:  %d/%d lines delivered in %.2f s wall, %.2f CPU-s: %.0f lines/CPU-s, %.0f lines/s, peak RSS %s MiB\n" \
  "$relayed" "$total" "$relay_wall" "$relay_cpu" "$relay_rate" "$(echo "$relayed / $relay_wall" | bc -l)" "$(rss_mb $relay)"
printf "ratio (lines per CPU-second, estuary / carbon-c-relay): %.2f\n" "$(echo "$estuary_rate / $relay_rate" | bc -l)"
kill $relay; wait $relay 2>/dev/null || true
fi

if [[ " $sections " == *" 3 "* ]]; then
echo
echo "== 3. collectd over UDP at rising rates: Estuary vs InfluxDB's [[collectd]] listener =="
# Synthetic datagrams (estuary-loadtools collectd-load): 40 values each, every datagram with
# its own timestamp, so both sides can count every value they kept.
values_per_datagram=40
rates=${COLLECTD_RATES:-"2000 5000 10000 20000 50000 100000"}
seconds=${COLLECTD_SECONDS:-4}
printf "%-12s %-28s %-28s\n" "datagrams/s" "estuary (points delivered)" "influxdb listener (stored)"

# InfluxDB's listener as a user runs it (its default read buffer: net.core.rmem_default), or,
# with INFLUX_READ_BUFFER=equal, with the same buffer Estuary gets.
influx_read_buffer=""
[ "${INFLUX_READ_BUFFER:-default}" = equal ] && influx_read_buffer="  read-buffer = $udp_buffer"
echo "InfluxDB listener read buffer: ${INFLUX_READ_BUFFER:-default}; Estuary read_buffer: $udp_buffer bytes (rmem_max $(sysctl -n net.core.rmem_max))"
influx_dir="$work/influxdb"; mkdir -p "$influx_dir"
influx_http=$(free_port); influx_rpc=$(free_port); influx_collectd=$(free_port)
cat > "$influx_dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$influx_rpc"
[meta]
  dir = "$influx_dir/meta"
[data]
  dir = "$influx_dir/data"
  wal-dir = "$influx_dir/wal"
  cache-max-memory-size = "2g"
[http]
  bind-address = "127.0.0.1:$influx_http"
  log-enabled = false
[[collectd]]
  enabled = true
  bind-address = "127.0.0.1:$influx_collectd"
  database = "collectd"
  typesdb = "$PWD/$fixtures/types.db"
$influx_read_buffer
CONF
influxd -config "$influx_dir/influxdb.conf" >"$influx_dir/influxd.log" 2>&1 & influxd=$!; pids+=($influxd)
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$influx_http/ping" && break; sleep 0.2; done
estuary_best=0; influx_best=0
for rate in $rates; do
  # Estuary: lines at the sink (self-metrics are a few lines per second; subtract what it had).
  before=$(sink_lines "$work/http.stats")
  $tools collectd-load "$collectd_port" "$rate" "$seconds" >/dev/null
  sleep 2
  # The sink also counts Estuary's self-metrics (a few dozen lines a second).
  got=$(( $(sink_lines "$work/http.stats") - before ))
  want=$(( rate * ${seconds%.*} * values_per_datagram ))
  # InfluxDB: a fresh database per rate, count what it stored.
  curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$influx_http/query" --data-urlencode "q=DROP DATABASE collectd"
  curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$influx_http/query" --data-urlencode "q=CREATE DATABASE collectd"
  sleep 0.5
  $tools collectd-load "$influx_collectd" "$rate" "$seconds" >/dev/null
  sleep 3
  stored=$(curl -fsS -G "http://127.0.0.1:$influx_http/query" --data-urlencode "db=collectd" \
    --data-urlencode "q=SELECT count(value) FROM /.*/" | python3 -c 'import json,sys
d=json.load(sys.stdin); print(sum(v[1] for r in d["results"] for s in r.get("series",[]) for v in s["values"]))')
  distinct=$want
  e_ok=$([ "$got" -ge "$want" ] && echo "no loss" || echo "LOSS $(( (want - got) * 100 / want ))%")
  i_ok=$([ "$stored" -ge "$distinct" ] && echo "no loss" || echo "LOSS $(( (distinct - stored) * 100 / distinct ))%")
  printf "%-12s %-28s %-28s\n" "$rate" "$got/$want $e_ok" "$stored/$distinct $i_ok"
  [ "$got" -ge "$want" ] && estuary_best=$rate
  [ "$stored" -ge "$distinct" ] && influx_best=$rate
done
echo "highest rate without loss: estuary $estuary_best datagrams/s ($(( estuary_best * values_per_datagram )) values/s), influxdb $influx_best datagrams/s ($(( influx_best * values_per_datagram )) values/s)"
echo "estuary peak RSS: $(rss_mb $estuary) MiB"
fi

if [[ " $sections " == *" 4 "* ]]; then
  # The SNMP poller at 10,000 devices against net-snmp's tools (its own script: it needs the
  # device farm of ../shared, and skips itself without it).
  scripts/bench-snmp.sh
fi
