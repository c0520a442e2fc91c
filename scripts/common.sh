# Sourced by scripts/bench.sh, scripts/bench-snmp.sh and scripts/run-local.sh: helpers for
# scripts that start processes on loopback and measure them.

# bench_workdir PREFIX: a scratch directory in $work, and a trap that stops every pid in
# $pids and removes $work when the script exits.
bench_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_seconds() { awk '{printf "%.2f\n", ($14+$15)/100}' "/proc/$1/stat"; }  # utime+stime, clock ticks of 1/100 s
rss_mb() { awk '/VmHWM/{printf "%.0f\n", $2/1024}' "/proc/$1/status"; }
sink_lines() { cut -d' ' -f1 "$1" 2>/dev/null || echo 0; }

# influxd_config DIR HTTP_PORT RPC_PORT [DATA_SETTINGS [SECTIONS]]: writes DIR/influxdb.conf
# for an influxd on loopback with its data under DIR; DATA_SETTINGS are extra lines of its
# [data] section, SECTIONS whole sections to add (a [[collectd]] listener).
influxd_config() {
  local dir=$1
  mkdir -p "$dir"
  cat > "$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$3"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
${4:-}
[http]
  bind-address = "127.0.0.1:$2"
  log-enabled = false
${5:-}
CONF
}
