#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/*) with -sanitize=fuzzer,address and runs each for
# SECONDS (default 20), seeded with the golden fixtures. A crash fails the run; its input is
# left in .build-fuzz/crashes/ to be turned into a golden test case.
#   usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"; shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzCollectd FuzzGraphite FuzzLineProtocol)
scratch=.build-fuzz
fixtures=Tests/EstuaryWireTests/Fixtures/collectd
mkdir -p "$scratch/bin" "$scratch/crashes"

for harness in "${harnesses[@]}"; do
  swift build -c release --scratch-path "$scratch" --target "$harness" -Xswiftc -sanitize=fuzzer,address >/dev/null
  # An executable target's own main would shadow libFuzzer's, so link the objects here.
  swiftc -sanitize=fuzzer,address "$scratch"/release/EstuaryModel.build/*.o "$scratch"/release/EstuaryWire.build/*.o \
    "$scratch/release/$harness.build/"*.o -o "$scratch/bin/$harness" 2>/dev/null
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
  esac
  echo "fuzzing $harness for ${seconds}s"
  (cd "$scratch/crashes" && "../bin/$harness" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
     -print_final_stats=1 "../corpus/$harness" 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" || true)
  if ls "$scratch/crashes"/crash-* "$scratch/crashes"/timeout-* "$scratch/crashes"/oom-* >/dev/null 2>&1; then
    echo "$harness found a failing input: $(ls "$scratch"/crashes/)" >&2
    exit 1
  fi
done
