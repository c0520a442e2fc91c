#!/usr/bin/env bash
# The SNMP poller at scale (section 5 of `make bench`): N simulated 48-port switches on
# loopback addresses, polled every INTERVAL seconds for CYCLES cycles, writing to a counting
# HTTP sink; then the same with a realistic bad mix of devices; then a naive poller made of
# net-snmp's own tools (parallel snmpbulkwalk processes) over the same healthy devices.
#
# The simulator is farmd from the shared device farm (FARM_DIR, default ../shared/farm): it
# is there for measuring and is not part of the project; without it this section is skipped.
#
#   SNMP_DEVICES=10000 SNMP_INTERVAL=60 SNMP_CYCLES=3 scripts/bench-snmp.sh
#   SNMP_NAIVE_PARALLEL=32 (processes of the naive poller), SNMP_MIX=0 (skip the bad mix),
#   SNMP_NAIVE=0 (skip the naive poller)
# Per cycle it reports: polls, devices polled on time (answered, not late), points, the CPU
# seconds Estuary used and its peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
farm_dir=${FARM_DIR:-../shared/farm}
devices=${SNMP_DEVICES:-10000}
interval=${SNMP_INTERVAL:-60}
cycles=${SNMP_CYCLES:-3}
naive_parallel=${SNMP_NAIVE_PARALLEL:-32}
release=.build/release
tools=$release/estuary-loadtools

if [ ! -f "$farm_dir/src/farmd.c" ]; then
  echo "== 5. SNMP polling: skipped (no device farm at $farm_dir; set FARM_DIR) =="
  exit 0
fi
source scripts/common.sh
bench_workdir estuary-snmp-bench
swift build -c release --product estuary >/dev/null
swift build -c release --product estuary-loadtools >/dev/null
cc -O2 -o "$work/farmd" "$farm_dir/src/farmd.c"


farm_port=$(free_udp_port)
base=127.1.0.1
python3 - "$base" "$devices" "$farm_port" > "$work/targets.txt" <<'PY'
import ipaddress, sys
base = ipaddress.ip_address(sys.argv[1])
for i in range(int(sys.argv[2])):
    print(f"{base + i}:{sys.argv[3]}")
PY

# run LABEL FARM_ARGS...: the farm, Estuary polling it for CYCLES intervals, the report.
run() {
  local label=$1; shift
  local sink_port; sink_port=$(free_port)
  rm -f "$work/sink.stats" "$work/status.lines"
  $tools http-sink "$sink_port" "$work/sink.stats" "$work/status.lines" & local sink=$!; pids+=($sink)
  "$work/farmd" -a "$base" -p "$farm_port" -n "$devices" -i 0 "$@" 2> "$work/farm.log" & local farm=$!; pids+=($farm)
  sleep 1
  cat > "$work/estuary.toml" <<CONF
data_dir = "$work/data"
log_level = "warning"
metrics_interval = "1h"
batch_lines = 5000
[[inputs.snmp]]
targets_file = "$work/targets.txt"
interval = "${interval}s"
timeout = "2s"
retries = 1
[[outputs.influxdb]]
url = "http://127.0.0.1:$sink_port"
database = "snmp"
gzip = false
queue_size = "1GiB"
CONF
  $release/estuary run --config "$work/estuary.toml" > "$work/estuary.log" 2>&1 & local estuary=$!; pids+=($estuary)
  local started; started=$(date +%s.%N)
  echo "-- $label: $devices devices, interval ${interval}s, $cycles cycles"
  printf "%-6s %8s %14s %12s %10s %10s %8s\n" cycle polls "on time" points CPU-s "% of core" "RSS MiB"
  local cpu_before=0 lines_before=0
  for cycle in $(seq 1 "$cycles"); do
    # A few seconds past the cycle's end, so its last status lines have reached the sink.
    local wake; wake=$(python3 -c "print(max(0, $started + $cycle * $interval + 3 - $(date +%s.%N)))")
    sleep "$wake"
    local cpu; cpu=$(cpu_seconds $estuary)
    local lines; lines=$(sink_lines "$work/sink.stats")
    python3 - "$work/status.lines" "$started" "$interval" "$cycle" "$work/farm.log" > "$work/cycle.txt" <<'PY'
import re, sys
path, started, interval, cycle, farm_log = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# Devices the farm gave a fault profile ("special idx=I ADDR:PORT ...").
special = set(re.findall(r"special idx=\d+ (\S+)", open(farm_log).read()))
lo, hi = started + (cycle - 1) * interval, started + cycle * interval
polls = on_time = healthy = healthy_on_time = 0
for line in open(path, errors="replace"):
    parts = line.split(" ")
    if len(parts) < 3:
        continue
    ts = int(parts[-1]) / 1e9
    if not (lo <= ts < hi):
        continue
    tags = dict(kv.split("=", 1) for kv in parts[0].split(",")[1:] if "=" in kv)
    fields = dict(kv.split("=", 1) for kv in parts[1].split(",") if "=" in kv)
    good = fields.get("up") == "1i" and fields.get("late") == "0i" and "error" not in fields
    polls += 1
    on_time += good
    if tags.get("agent_host") not in special:
        healthy += 1
        healthy_on_time += good
print(polls, on_time, healthy, healthy_on_time, len(special))
PY
    read -r polls on_time healthy healthy_on_time special < "$work/cycle.txt"
    local used; used=$(python3 -c "print(f'{$cpu - $cpu_before:.2f}')")
    local share; share=$(python3 -c "print(f'{100 * ($cpu - $cpu_before) / $interval:.1f}')")
    local on; on="$on_time"
    if [ "$special" -gt 0 ]; then on="$on_time ($healthy_on_time/$healthy healthy)"; fi
    printf "%-6s %8s %14s %12s %10s %10s %8s\n" "$cycle" "$polls" "$on" "$((lines - lines_before))" "$used" "$share" "$(rss_mb $estuary)"
    cpu_before=$cpu; lines_before=$lines
  done
  grep -m3 -i "error\|critical" "$work/estuary.log" || true
  kill -TERM $estuary; wait $estuary 2>/dev/null || true
  kill $farm $sink 2>/dev/null || true; wait $farm $sink 2>/dev/null || true
}

echo "== 5. SNMP polling: Estuary's poller against net-snmp's tools (farm: $farm_dir) =="
run "healthy farm"
if [ "${SNMP_MIX:-1}" = 1 ]; then
  # 2% dead, 2% answering in 2 s, 5% losing 20% of requests, 1% dropping GETBULKs over 20 repetitions.
  run "bad mix" -X timeout@2 -X slow=2000@2 -X drop=20@5 -X bulkdrop=5@1
fi

if [ "${SNMP_NAIVE:-1}" = 1 ]; then
  "$work/farmd" -a "$base" -p "$farm_port" -n "$devices" -i 0 2> "$work/farm.log" & farm=$!; pids+=($farm)
  sleep 1
  echo "-- naive poller: snmpbulkwalk of ifTable and ifXTable per device, $naive_parallel processes in parallel"
  begin=$(date +%s.%N)
  # shellcheck disable=SC2016
  /usr/bin/time -f "%e %U %S" -o "$work/naive.time" \
    xargs -P "$naive_parallel" -I{} sh -c \
      'snmpbulkwalk -v2c -c public -m "" -Cr10 -t 2 -r 1 -On {} .1.3.6.1.2.1.2.2 >/dev/null 2>&1;
       snmpbulkwalk -v2c -c public -m "" -Cr10 -t 2 -r 1 -On {} .1.3.6.1.2.1.31.1.1 >/dev/null 2>&1' < "$work/targets.txt" \
    || echo "naive: xargs ended with status $? (a walk was killed or failed); the time below still counts"
  read -r wall user sys < "$work/naive.time"
  echo "naive: $devices devices in ${wall} s wall, $(python3 -c "print(f'{$user + $sys:.1f}')") CPU-s (children); one cycle every ${interval}s needs wall < ${interval}"
  kill $farm 2>/dev/null || true; wait $farm 2>/dev/null || true
fi
