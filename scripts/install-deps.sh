#!/usr/bin/env bash
# Installs the Debian packages Estuary builds, tests and runs with, when they are missing.
# Used by `make deps` (and so by `make test`, `make run`, `make bench`).
set -euo pipefail

packages=(
  pkg-config
  curl                  # make run checks and prepares the local InfluxDB
  zlib1g-dev            # gzip (CZlib)
  libssl-dev            # collectd sign/encrypt (CLibcrypto)
  libsnmp-dev           # SNMP poller (CNetSNMP)
  libcurl4-openssl-dev  # InfluxDB HTTP output
  collectd-core         # types.db, and the real collectd the integration tests send with
  influxdb              # the real InfluxDB 1.x the tests and `make run` start
  influxdb-client       # the influx shell, for looking at what arrived
  snmpd snmp            # real SNMP agents and net-snmp's tools
  snmpsim               # SNMP agents that serve recorded walks (the SNMP tests)
)
if [ "${ESTUARY_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(carbon-c-relay valgrind)  # the peers `make bench` compares against
  packages+=(bc bsdextrautils)         # the bench script's arithmetic, and `column` for the soak's table
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian's package scripts try to start these services; Estuary starts its own, on loopback.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
