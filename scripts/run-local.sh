#!/usr/bin/env bash
# `make run`: starts a local InfluxDB (Debian's influxd, data under ./data/influxdb, loopback
# only) unless one answers on 127.0.0.1:8086 already, creates the database, and runs Estuary
# with examples/estuary.toml (collectd on UDP 25826, graphite on TCP/UDP 2003, the health
# endpoint on http://127.0.0.1:8125: /health, /metrics). Ctrl-C stops
# Estuary (it flushes first) and the InfluxDB this script started.
#
# Stopping: Ctrl-C sends SIGINT to the whole foreground job, this script and Estuary alike
# (not to the InfluxDB the script starts: it runs in its own session, so it stays up for
# Estuary's last flush and is stopped after Estuary has ended). The script passes nothing on
# for it: Estuary has its own SIGINT already, and another signal would be a second request.
# A SIGTERM sent to the script alone is forwarded to Estuary, once. The script waits for
# Estuary and exits with Estuary's exit status (0 nothing lost, 3 data lost; see
# Docs/operations.md, "Signals and exit codes").
#
# Environment overrides (for tests; the defaults are what `make run` uses):
#   ESTUARY_BINARY      the estuary binary                 (default .build/debug/estuary)
#   ESTUARY_CONFIG      the configuration file             (default examples/estuary.toml)
#   ESTUARY_INFLUX_URL  the InfluxDB pinged, and where the database collectd is created
#                       (default http://127.0.0.1:8086). A local InfluxDB is started only for
#                       the default; another address must already answer. The configuration
#                       names the InfluxDB Estuary writes to.
# Relative paths are taken from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
data="$PWD/data/influxdb"
estuary=${ESTUARY_BINARY:-.build/debug/estuary}
config=${ESTUARY_CONFIG:-examples/estuary.toml}
default_influx_url=http://127.0.0.1:8086
influx_url=${ESTUARY_INFLUX_URL:-$default_influx_url}
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
elif [ "$influx_url" != "$default_influx_url" ]; then
  echo "nothing answers at ESTUARY_INFLUX_URL=$influx_url (a local InfluxDB is started only for $default_influx_url)" >&2
  exit 1
else
  influxd_config "$data" 8086 8088
  echo "starting InfluxDB (data in $data, log in $data/influxd.log)"
  # Its own session: the terminal's Ctrl-C must not stop it before Estuary has flushed to it.
  # (A background job is not a process group leader, so setsid execs influxd without forking:
  # $! is influxd.)
  setsid influxd -config "$data/influxdb.conf" >"$data/influxd.log" 2>&1 </dev/null &
  started_influxd=$!
  for _ in $(seq 1 100); do answers && break; sleep 0.2; done
  answers || { echo "InfluxDB did not start; see $data/influxd.log" >&2; exit 1; }
fi
curl -fsS -o /dev/null -XPOST "$influx_url/query" --data-urlencode "q=CREATE DATABASE collectd"

echo "running: $estuary run --config $config   (Ctrl-C to stop)"
echo "look at what arrives with: influx -database collectd -execute 'SHOW MEASUREMENTS'"
echo "and at Estuary itself: curl http://127.0.0.1:8125/health   curl http://127.0.0.1:8125/metrics"
"$estuary" run --config "$config" &
estuary_pid=$!
# INT: the terminal sent it to Estuary too; sending another signal would be a second request to
# stop. TERM to this script alone: pass it on, once (a second one is Estuary's to judge).
caught=""
forwarded=""
trap 'caught=INT' INT
trap 'caught=TERM; if [ -z "$forwarded" ]; then forwarded=1; kill -TERM "$estuary_pid" 2>/dev/null || true; fi' TERM
# A trapped signal cuts `wait` short (status > 128) while Estuary still runs: wait again. Once
# `wait` has reported Estuary's status, another `wait` says 127 (not a child): keep the status.
status=""
while :; do
  caught=""
  wait "$estuary_pid" && rc=0 || rc=$?
  if [ "$rc" = 127 ] && [ -n "$status" ]; then break; fi
  status=$rc
  if [ -n "$caught" ] && [ "$rc" -gt 128 ]; then continue; fi
  break
done
if [ "$status" != 0 ]; then
  echo "estuary exited with status $status (3: data was lost, the log above says how much; see Docs/operations.md)" >&2
fi
exit "$status"
