#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/*) with -sanitize=fuzzer,address and runs each for
# SECONDS (default 12), seeded with the golden fixtures and the sample configuration. A crash
# fails the run; its input is left in .build-fuzz/crashes/ to be turned into a golden test case.
#   usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
# FUZZ_JOBS=N runs each harness in N processes (libFuzzer -fork), for long runs.
# FUZZ_NO_BUILD=1 runs the binaries already in .build-fuzz/bin (build them first, e.g. with
# `scripts/fuzz.sh 1`, then run long sessions without building).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-12}"; shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzCollectd FuzzGraphite FuzzLineProtocol FuzzTemplates FuzzConfig)
scratch=.build-fuzz
fixtures=Tests/EstuaryWireTests/Fixtures/collectd
mkdir -p "$scratch/bin" "$scratch/crashes"
# libFuzzer reports crashes itself; Swift's backtracer would hang on an ASan binary.
export SWIFT_BACKTRACE=enable=no

for harness in "${harnesses[@]}"; do
  # The same flags for every harness (one scratch build); C++ (the TOML parser under the
  # configuration) gets coverage and ASan too.
  if [ -z "${FUZZ_NO_BUILD:-}" ]; then
    swift build -c release --scratch-path "$scratch" --target "$harness" -Xswiftc -sanitize=fuzzer,address \
      -Xcxx -fsanitize=fuzzer-no-link,address >/dev/null
    # An executable target's own main would shadow libFuzzer's, so link the objects here.
    modules=(EstuaryModel EstuaryWire)
    extra=()
    [ "$harness" = FuzzConfig ] && {
      modules+=(EstuarySNMP EstuaryRuntime CLinuxDescriptors EstuaryIO CTOML TOMLKit EstuaryConfig); extra=(-lstdc++); }
    objects=()
    for module in "${modules[@]}" "$harness"; do
      while IFS= read -r object; do objects+=("$object"); done < <(find "$scratch/release/$module.build" -name '*.o' | sort)
    done
    # (ld.gold warns about every ASan helper symbol: keep the log for a failure only)
    swiftc -sanitize=fuzzer,address "${objects[@]}" "${extra[@]}" -o "$scratch/bin/$harness" 2>"$scratch/link.log" \
      || { grep -v "Cannot export local symbol" "$scratch/link.log" >&2; exit 1; }
  fi
  corpus="$scratch/corpus/$harness"
  mkdir -p "$corpus"
  case "$harness" in
    FuzzCollectd)
      for set in plain sign encrypt; do
        for f in "$fixtures"/capture/$set/00*.bin; do cp -f "$f" "$corpus/$set-$(basename "$f")"; done
      done
      cp -f "$fixtures"/bad/*.bin "$corpus"/ ;;
    FuzzGraphite) split -l 25 "$fixtures/write_graphite-client-tcp.txt" "$corpus/lines-" ;;
    FuzzLineProtocol) : ;;
    FuzzTemplates)
      # separator, templates, an empty line, paths (see Fuzz/FuzzTemplates)
      printf '.\nservers.* .host.resource.measurement*\nstats.* .host.measurement* region=eu-west\n\nservers.web01.cpu.load\nstats.api.requests\nother.path\n' >"$corpus/basic"
      printf '_\nsensu.metric.* ..measurement.host.interface.field\n*.*.*.* .host.measurement.field*\nmeasurement.measurement.region\n\nsensu.metric.net.server0.eth0.rx_packets\na.b.c.d.e\n' >"$corpus/fields"
      printf '.\ncpu.*.idle .measurement.host.field env=prod,dc=1\nhost.measurement.measurement* a=b\n\ncpu.h1.idle\nh.m1.m2.m3\n' >"$corpus/tags" ;;
    FuzzConfig)
      cp -f examples/estuary.toml "$corpus/sample.toml"
      printf '[[inputs.collectd]]\nlisten = "127.0.0.1:25826"\nsecurity_level = "sign"\nauth_file = "/x"\nallow = ["127.0.0.0/8", "::1/128"]\n[[outputs.influxdb]]\nurl = "http://127.0.0.1:8086"\n' >"$corpus/collectd.toml"
      printf 'health_listen = "127.0.0.1:8125"\n[[inputs.graphite]]\nlisten_tcp = ":2003"\ntemplates = ["a.* .host.measurement*"]\nread_timeout = "30s"\n[[outputs.influxdb]]\napi = "v2"\norg = "o"\nbucket = "b"\ntoken = "t"\n' >"$corpus/graphite.toml" ;;
  esac
  echo "fuzzing $harness for ${seconds}s"
  parallel=()
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && parallel=(-fork="$FUZZ_JOBS" -ignore_crashes=0)
  # TOMLKit 0.6 leaks the C strings it hands out (every string value and key list read, and
  # the parse error): a few KiB per parse, which Estuary does at start and on SIGHUP. That is
  # not the parser under test, so leaks are not failures for FuzzConfig.
  leaks=1
  [ "$harness" = FuzzConfig ] && { parallel+=(-detect_leaks=0); leaks=0; }
  (cd "$scratch/crashes" && ASAN_OPTIONS="detect_leaks=$leaks" "../bin/$harness" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
     "${parallel[@]}" -print_final_stats=1 "../corpus/$harness" </dev/null 2>&1 \
     | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|INFO: fuzzed for)" || true)
  # (any one kind of failing input fails the run)
  if [ -n "$(find "$scratch/crashes" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -print -quit)" ]; then
    echo "$harness found a failing input: $(ls "$scratch"/crashes/)" >&2
    exit 1
  fi
done
