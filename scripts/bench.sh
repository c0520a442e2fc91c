#!/usr/bin/env bash
# `make bench`: Estuary's throughput, measured in one run on this machine against the peers
# a user would pick instead. Loopback only; every process it starts is stopped at the end.
#   1. decode to line protocol on one core (estuary-bench, in-process)
#   2. graphite over TCP (8 connections) -> line protocol to a counting HTTP sink, against
#      carbon-c-relay relaying the same lines to a counting TCP sink
#   3. collectd datagrams over UDP at rising rates into Estuary, against InfluxDB 1.6.7's own
#      [[collectd]] listener: the highest rate with zero loss for each
#   4. soak: SOAK_SECONDS (default 1800) of steady mixed load (graphite over TCP, collectd over
#      UDP; every value countable) into Estuary writing to a real InfluxDB that is restarted
#      every SOAK_RESTART seconds (default 300); sent vs stored, RSS and spool size over time.
#   5. the SNMP poller: 10,000 simulated 48-port switches every 60 s, healthy and with a bad
#      mix, against a poller made of net-snmp's tools (scripts/bench-snmp.sh; ~12 minutes)
# BENCH_SECTIONS="1 2 3 4 5" (the default) picks the sections.
# Figures go to stdout; Docs/performance.md records a run with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=Tests/EstuaryWireTests/Fixtures/collectd
release=.build/release
source scripts/common.sh
bench_workdir estuary-bench

# BENCH_NO_BUILD=1: use the release binaries already built (when builds are serialized elsewhere).
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  swift build -c release --product estuary >/dev/null
  swift build -c release --product estuary-bench >/dev/null
  swift build -c release --product estuary-loadtools >/dev/null
fi
tools=$release/estuary-loadtools

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

sections=${BENCH_SECTIONS:-"1 2 3 4 5"}
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
influxd_config "$influx_dir" "$influx_http" "$influx_rpc" '  cache-max-memory-size = "2g"' "[[collectd]]
  enabled = true
  bind-address = \"127.0.0.1:$influx_collectd\"
  database = \"collectd\"
  typesdb = \"$PWD/$fixtures/types.db\"
$influx_read_buffer"
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
echo
soak_seconds=${SOAK_SECONDS:-1800}; soak_restart=${SOAK_RESTART:-300}; soak_down=${SOAK_DOWN:-10}
graphite_rate=${SOAK_GRAPHITE_RATE:-500}; collectd_rate=${SOAK_COLLECTD_RATE:-50}
echo "== 4. soak: ${soak_seconds} s of graphite TCP ($graphite_rate lines/s) + collectd UDP ($collectd_rate datagrams/s," \
  "$((collectd_rate * 40)) values/s) into InfluxDB, restarted every ${soak_restart} s (down ${soak_down} s) =="
soak="$work/soak"; mkdir -p "$soak/influxdb"
s_http=$(free_port); s_rpc=$(free_port); s_graphite=$(free_port); s_collectd=$(free_port); s_health=$(free_port)
influxd_config "$soak/influxdb" "$s_http" "$s_rpc"
start_influxd() {
  influxd -config "$soak/influxdb/influxdb.conf" >>"$soak/influxdb/influxd.log" 2>&1 & s_influxd=$!; pids+=($s_influxd)
  for _ in $(seq 1 150); do curl -fs -o /dev/null "http://127.0.0.1:$s_http/ping" && return 0; sleep 0.2; done
  echo "influxd did not start; see $soak/influxdb/influxd.log" >&2; return 1
}
start_influxd
curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$s_http/query" --data-urlencode "q=CREATE DATABASE soak"
cat > "$soak/estuary.toml" <<CONF
data_dir = "$soak/data"
log_level = "notice"
metrics_interval = "10s"
health_listen = "127.0.0.1:$s_health"
[[inputs.graphite]]
listen_tcp = "127.0.0.1:$s_graphite"
collectd_paths = false
[[inputs.collectd]]
listen = "127.0.0.1:$s_collectd"
types_db = ["$PWD/$fixtures/types.db"]
read_buffer = $udp_buffer
[[outputs.influxdb]]
url = "http://127.0.0.1:$s_http"
database = "soak"
retry_max = "2s"
timeout = "5s"
CONF
$release/estuary run --config "$soak/estuary.toml" 2>"$soak/estuary.log" & s_estuary=$!; pids+=($s_estuary)
sleep 1
kill -0 $s_estuary 2>/dev/null || { echo "estuary did not start:" >&2; cat "$soak/estuary.log" >&2; exit 1; }
graphite_count=$((graphite_rate * soak_seconds))
$tools graphite-count "$s_graphite" soak.graphite.count 0 "$graphite_count" "$graphite_rate" >"$soak/graphite.sent" & g_load=$!; pids+=($g_load)
$tools collectd-load "$s_collectd" "$collectd_rate" "$soak_seconds" soak-host >"$soak/collectd.sent" & c_load=$!; pids+=($c_load)
spool_bytes() { du -sb "$soak/data/spool" 2>/dev/null | cut -f1 || echo 0; }
rss_now() { awk '/VmRSS/{printf "%.1f\n", $2/1024}' "/proc/$1/status"; }
health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s_health/health" || echo none; }
echo "elapsed_s rss_mib spool_bytes health influxd" > "$soak/samples.txt"
t0=$SECONDS; next_restart=$soak_restart
while kill -0 $g_load 2>/dev/null || kill -0 $c_load 2>/dev/null; do
  elapsed=$((SECONDS - t0))
  state=up
  if [ $elapsed -ge $next_restart ] && [ $elapsed -lt $soak_seconds ]; then
    kill $s_influxd; wait $s_influxd 2>/dev/null || true
    sleep 2  # long enough for a request to fail: /health says 503
    echo "$elapsed $(rss_now $s_estuary) $(spool_bytes) $(health) restarting" >> "$soak/samples.txt"
    sleep "$soak_down"
    start_influxd
    next_restart=$((next_restart + soak_restart)); state=restarted
  fi
  echo "$((SECONDS - t0)) $(rss_now $s_estuary) $(spool_bytes) $(health) $state" >> "$soak/samples.txt"
  sleep 10
done
# Catch-up: the spool drains and the counts stop moving (at most 10 minutes).
stored_counts() {
  curl -fsS -G "http://127.0.0.1:$s_http/query" --data-urlencode "db=soak" --data-urlencode \
    "q=SELECT count(value) FROM \"soak.graphite.count\"; SELECT count(value) FROM interface_rx, interface_tx WHERE host =~ /^soak-host-/" \
    | python3 -c 'import json,sys
d=json.load(sys.stdin); print(*[sum(v[1] for s in r.get("series",[]) for v in s["values"]) for r in d["results"]])'
}
last=""; for _ in $(seq 1 60); do
  now=$(stored_counts); echo "$((SECONDS - t0)) $(rss_now $s_estuary) $(spool_bytes) $(health) catch-up" >> "$soak/samples.txt"
  [ "$now" = "$last" ] && [ "$(spool_bytes)" -lt 100000 ] && break; last=$now; sleep 10
done
read -r g_stored c_stored <<<"$(stored_counts)"
g_sent=$(awk '{print $2}' "$soak/graphite.sent"); c_sent=$(awk '{print $3}' "$soak/collectd.sent")
peak=$(rss_mb $s_estuary)
kill -TERM $s_estuary; s_rc=0; wait $s_estuary || s_rc=$?
echo "graphite (TCP):  sent $g_sent lines, stored $g_stored, lost $((g_sent - g_stored))"
echo "collectd (UDP):  sent $c_sent values, stored $c_stored, lost $((c_sent - c_stored))"
echo "estuary: peak RSS $peak MiB; exit code $s_rc; restarts of influxd: $(grep -c restarting "$soak/samples.txt");" \
  "/health answers: $(awk 'NR>1 {print $4}' "$soak/samples.txt" | sort | uniq -c | tr -s ' ' | paste -sd, -)"
awk 'NR>1 && $5!="catch-up" {n++; r[n]=$2; if ($3>maxs) maxs=$3}
     END {printf "RSS (MiB) over the run: first %s, at 25%% %s, 50%% %s, 75%% %s, last %s; largest spool %d bytes\n",
          r[1], r[int(n/4)], r[int(n/2)], r[int(3*n/4)], r[n], maxs}' "$soak/samples.txt"
echo "samples (every 10 s; every minute shown, and around each restart): elapsed s, RSS MiB, spool bytes, /health status, influxd"
awk 'NR>1 && (NR % 6 == 2 || $5 != "up")' "$soak/samples.txt" | column -t
grep -iE "error|warning" "$soak/estuary.log" | cut -c1-200 | sort | uniq -c | sort -rn | head -5 || true
fi

if [[ " $sections " == *" 5 "* ]]; then
  # The SNMP poller at 10,000 devices against net-snmp's tools (its own script: it needs the
  # device farm of ../shared, and skips itself without it).
  echo
  scripts/bench-snmp.sh
fi
