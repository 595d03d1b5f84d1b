#!/usr/bin/env bash
# Startup: what an on-call engineer waits for before rollback does anything.
#
#   `rollback --help`                                  argument parsing and process start
#   `rollback validate --runbook <Atom runbook>`       plus reading and checking the runbook
#
# Wall time with hyperfine (median, min, max of BENCH_RUNS, default 20, at least 10) and
# peak resident memory with /usr/bin/time (the largest of 5 runs). Target: 25 ms each.
# Needs no servers. Takes the binary from ROLLBACK_BIN, else builds the release binary.
# Prints the numbers; exits 0 whether or not the targets are met (it is a measurement).
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
bench_runs
bench_need hyperfine jq /usr/bin/time
bench_binary

work=$(mktemp -d "${TMPDIR:-/tmp}/rollback-bench-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT

atom=runbooks/frontend-backend-migration.yaml
"$bin" validate --runbook "$atom" >/dev/null

hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$work/startup.json" \
  -n "rollback --help" "$bin --help" \
  -n "rollback validate (Atom)" "$bin validate --runbook $atom" >&2

peak_kib() {
  local best=0 kib
  for _ in 1 2 3 4 5; do
    kib=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
    if [ "$kib" -gt "$best" ]; then best=$kib; fi
  done
  echo "$best"
}
help_kib=$(peak_kib "$bin" --help)
validate_kib=$(peak_kib "$bin" validate --runbook "$atom")

help_ms=$(ms "$work/startup.json" 0 median)
validate_ms=$(ms "$work/startup.json" 1 median)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "startup: wall time (hyperfine, $runs runs) and peak memory (largest of 5 runs); target 25 ms"
timing_header "peak memory"
timing_row "$work/startup.json" 0 "rollback --help" "$(mib "$help_kib") MiB ($(verdict "$help_ms" 25))"
timing_row "$work/startup.json" 1 "rollback validate (Atom runbook)" \
  "$(mib "$validate_kib") MiB ($(verdict "$validate_ms" 25))"
summary "startup: rollback --help" "$help_ms ms, $(mib "$help_kib") MiB" "<= 25 ms" "$(verdict "$help_ms" 25)"
summary "startup: validate (Atom)" "$validate_ms ms, $(mib "$validate_kib") MiB" "<= 25 ms" \
  "$(verdict "$validate_ms" 25)"
