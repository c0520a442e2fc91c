#!/usr/bin/env bash
# `make test-repeat`: the whole suite RUNS times (default 3) from one build, the last run with a
# CPU hog busy on one core, as a check that no test depends on the machine's speed or on the
# other tests (Docs/architecture.md, "Tests"). Not part of CI. Prints pass or fail and the wall
# time of each run; each run's output is kept in .build/test-repeat/run-N.log. Exits 1 if any
# run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
hog_run=${HOG_RUN:-$runs}  # which run has the CPU hog (0: none)
logs=.build/test-repeat
mkdir -p "$logs"

hog=""
stop_hog() {
  if [ -n "$hog" ]; then
    kill "$hog" 2>/dev/null || true
    wait "$hog" 2>/dev/null || true
    hog=""
  fi
}
trap stop_hog EXIT

failed=0
for run in $(seq 1 "$runs"); do
  label="run $run of $runs"
  if [ "$run" = "$hog_run" ]; then
    # A busy loop on one core, bounded in time so that it can never outlive this script.
    timeout 3600 sh -c 'while :; do :; done' &
    hog=$!
    label="$label, with a CPU hog on one core"
  fi
  log="$logs/run-$run.log"
  started=$(date +%s)
  swift test --skip-build >"$log" 2>&1
  status=$?
  seconds=$(( $(date +%s) - started ))
  stop_hog
  summary=$(grep -E "Test run with [0-9]+ tests" "$log" | tail -1)
  if [ "$status" = 0 ]; then
    echo "PASS  $label: ${seconds} s; ${summary:-no summary line}"
  else
    failed=$((failed + 1))
    echo "FAIL  $label: ${seconds} s; ${summary:-no summary line} (exit $status; $log)"
    grep -E "Test \".* (recorded an issue|failed after)" "$log" | cut -c1-300 | head -20 | sed 's/^/      /'
  fi
done
echo "$((runs - failed)) passed, $failed failed"
[ "$failed" = 0 ]
