# Shared by the bench/*.sh scripts (sourced, not run).
#
#   bench_on_harness "$0" "$@"   re-runs the script under scripts/harness/with-harness unless the
#                           harness is up already (ROLLBACK_TEST_PROM_URL set)
#   bench_need TOOL...      exits 2, saying so, unless every TOOL is installed
#   bench_binary            sets $bin: $ROLLBACK_BIN, else `make release` and .build/release/rollback
#   bench_runs              sets $runs: $BENCH_RUNS (default 20, at least 10)
#   ms FILE I FIELD         a hyperfine JSON result's median|min|max|mean in ms (one decimal)
#   ratio A B               A / B with two decimals
#   verdict VALUE TARGET    "met" when VALUE <= TARGET, else "NOT met"
#   timing_row FILE I NAME [RATIO]   one table row: name, median, min, max, ratio
#   summary NAME MEASURED TARGET VERDICT   one line of bench/run's closing summary
#
# Every script prints its numbers and exits 0 whether or not a target is met: a benchmark
# is a measurement. It exits non-zero only when a contender did not do its job.

bench_on_harness() {
  if [ -z "${ROLLBACK_TEST_PROM_URL:-}" ]; then
    exec scripts/harness/with-harness "$@"
  fi
}

bench_need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench-deps)" >&2; exit 2; }
  done
}

bench_binary() {
  if [ -n "${ROLLBACK_BIN:-}" ]; then
    bin=$ROLLBACK_BIN
  else
    echo "bench: building the release binary (make release)" >&2
    make -s release >/dev/null
    bin=$PWD/.build/release/rollback
  fi
  [ -x "$bin" ] || { echo "bench: $bin is not an executable" >&2; exit 2; }
}

bench_runs() {
  runs=${BENCH_RUNS:-20}
  if [ "$runs" -lt 10 ]; then runs=10; fi
}

ms() { jq -r ".results[$2].$3 * 1000 | . * 10 | round / 10" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "met" : "NOT met") }'; }

timing_header() {
  printf '  %-46s %9s %8s %8s  %s\n' "" "median ms" "min" "max" "${1:-}"
}

timing_row() {
  printf '  %-46s %9s %8s %8s  %s\n' "$3" "$(ms "$1" "$2" median)" "$(ms "$1" "$2" min)" \
    "$(ms "$1" "$2" max)" "${4:-}"
}

summary() {
  if [ -n "${BENCH_SUMMARY:-}" ]; then
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_SUMMARY"
  fi
}
