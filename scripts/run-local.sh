#!/usr/bin/env bash
# `make run`: starts a local InfluxDB (Debian's influxd, data under ./data/influxdb, loopback
# only) unless one answers on 127.0.0.1:8086 already, creates the database, and runs Estuary
# with examples/estuary.toml (collectd on UDP 25826, graphite on TCP/UDP 2003, the health
# endpoint on http://127.0.0.1:8125: /health, /metrics). Ctrl-C stops
# Estuary (it flushes first) and the InfluxDB this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
data="$PWD/data/influxdb"
estuary=.build/debug/estuary
influx_url=http://127.0.0.1:8086
started_influxd=""

source scripts/common.sh  # influxd_config
answers() { curl -fsS -o /dev/null "$influx_url/ping" 2>/dev/null; }

cleanup() {
  if [ -n "$started_influxd" ]; then
    echo "stopping the InfluxDB this script started (pid $started_influxd)"
    kill "$started_influxd" 2>/dev/null || true
    wait "$started_influxd" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if answers; then
  echo "using the InfluxDB already answering at $influx_url"
else
  influxd_config "$data" 8086 8088
  echo "starting InfluxDB (data in $data, log in $data/influxd.log)"
  influxd -config "$data/influxdb.conf" >"$data/influxd.log" 2>&1 &
  started_influxd=$!
  for _ in $(seq 1 100); do answers && break; sleep 0.2; done
  answers || { echo "InfluxDB did not start; see $data/influxd.log" >&2; exit 1; }
fi
curl -fsS -o /dev/null -XPOST "$influx_url/query" --data-urlencode "q=CREATE DATABASE collectd"

echo "running: $estuary run --config examples/estuary.toml   (Ctrl-C to stop)"
echo "look at what arrives with: influx -database collectd -execute 'SHOW MEASUREMENTS'"
echo "and at Estuary itself: curl http://127.0.0.1:8125/health   curl http://127.0.0.1:8125/metrics"
"$estuary" run --config examples/estuary.toml &
estuary_pid=$!
trap 'kill -TERM $estuary_pid 2>/dev/null || true' INT TERM
wait $estuary_pid || true
wait $estuary_pid 2>/dev/null || true
