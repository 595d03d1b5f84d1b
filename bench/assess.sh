#!/usr/bin/env bash
# `make bench`: how fast `rollback assess` answers "how bad is it?".
#
#  1. `rollback assess` (release build) on the Atom runbook's `local` environment against
#     the seed's own procedure in bash (bench/seed-identify.sh: three `curl | jq`, two
#     `psql`, one after another), on the same harness servers. Target: at most 1/3.
#  2. Parallelism: the assess-harness runbook with a postgres signal that takes ~200 ms
#     (`SELECT 1 FROM pg_sleep(0.2)`) against that one query run alone with psql.
#     Target: at most 1.3 x the slowest query.
#
# Medians of BENCH_RUNS (default 20, at least 10) runs each, with hyperfine. Starts the
# harness (scripts/harness/with-harness) unless ROLLBACK_TEST_PROM_URL is already set.
# Prints the numbers; exits 0 whether or not the targets are met (it is a measurement).
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
bench_on_harness "$0" "$@"
bench_runs
bench_need hyperfine jq psql curl
bench_binary

export ROLLBACK_PROM_URL=$ROLLBACK_TEST_PROM_URL
export DATABASE_URL=$ROLLBACK_TEST_DATABASE_URL
export ROLLBACK_APP_DIR=$ROLLBACK_TEST_APP_DIR
export ROLLBACK_APP_URL=$ROLLBACK_TEST_APP_URL
export ROLLBACK_SUPERVISOR_CONF=$ROLLBACK_TEST_SUPERVISOR_CONF

work=$(mktemp -d "${TMPDIR:-/tmp}/rollback-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT


# --- 1. assess vs the seed's bash procedure -------------------------------------------
atom=(assess --runbook runbooks/frontend-backend-migration.yaml --env local --state-dir "$work/state")
"$bin" "${atom[@]}" --json >"$work/atom-once.json" 2>/dev/null || true
unknown=$(jq -r '[.signals[] | select(.source != "manual" and .value == null) | .name] | join(", ")' \
  "$work/atom-once.json")
echo "bench: Atom local assessment: $(jq -r '.verdict' "$work/atom-once.json"), read in" \
  "$(jq -r '.duration_s' "$work/atom-once.json") s; unknown: ${unknown:-none}" >&2

hyperfine -N --style basic --warmup 3 --runs "$runs" -i --export-json "$work/atom.json" \
  -n "rollback assess (Atom, local)" "$bin ${atom[*]}" \
  -n "seed procedure in bash (3 curl|jq, 2 psql)" "bench/seed-identify.sh" >&2

assess_ms=$(ms "$work/atom.json" 0 median)
bash_ms=$(ms "$work/atom.json" 1 median)
atom_ratio=$(ratio "$assess_ms" "$bash_ms")

# --- 2. parallelism: one slow query among the signals -----------------------------------
metrics=$ROLLBACK_TEST_METRICS_FILE
if ! grep -q 'case="bench"' "$metrics"; then
  {
    cat "$metrics"
    echo 'test_assess_error_ratio{case="bench"} 0.0005'
    echo 'test_assess_latency_p95_seconds{case="bench"} 0.2'
    echo 'test_assess_db_pool_usage{case="bench"} 0.3'
    echo 'test_assess_up{case="bench"} 1'
  } >"$metrics.bench.tmp"
  mv "$metrics.bench.tmp" "$metrics"
  sleep 2.5
fi
slow_query="SELECT 1 FROM pg_sleep(0.2)"
harness=(assess --runbook runbooks/examples/assess-harness.yaml --var case=bench --state-dir "$work/state")
"$bin" "${harness[@]}" --var "slow_query=$slow_query" --json >"$work/slow-once.json" 2>/dev/null || true
inside_total=$(jq -r '.duration_s' "$work/slow-once.json")
inside_slow=$(jq -r '.signals[] | select(.name == "slow_probe") | .duration_s' "$work/slow-once.json")
echo "bench: inside one assessment: all signals read in $inside_total s, slow_probe alone took $inside_slow s" >&2

hyperfine -N --style basic --warmup 3 --runs "$runs" -i --export-json "$work/slow.json" \
  -n "rollback assess with a 200 ms signal" \
  "$bin ${harness[*]} --var 'slow_query=$slow_query'" \
  -n "the slowest query alone (psql)" "psql $DATABASE_URL -XAtc '$slow_query'" >&2

slow_assess_ms=$(ms "$work/slow.json" 0 median)
slow_query_ms=$(ms "$work/slow.json" 1 median)
slow_ratio=$(ratio "$slow_assess_ms" "$slow_query_ms")

echo
echo "assess: rollback assess against the seed's procedure (hyperfine, $runs runs each)"
echo " Atom runbook, local environment:"
timing_header "ratio"
timing_row "$work/atom.json" 0 "rollback assess" "$atom_ratio (target <= 0.33: $(verdict "$atom_ratio" 0.334))"
timing_row "$work/atom.json" 1 "seed procedure in bash (3 curl|jq, 2 psql)" "1.00"
echo " Parallelism (assess-harness runbook; one signal is SELECT 1 FROM pg_sleep(0.2)):"
timing_row "$work/slow.json" 0 "rollback assess" "$slow_ratio (target <= 1.3: $(verdict "$slow_ratio" 1.3))"
timing_row "$work/slow.json" 1 "the slowest query alone (psql)" "1.00"
echo "  inside one assessment: all signals read in $inside_total s, the slow one alone $inside_slow s"
summary "assess Atom / seed bash" "$assess_ms / $bash_ms ms = $atom_ratio" "<= 0.33" "$(verdict "$atom_ratio" 0.334)"
summary "assess / slowest query (200 ms)" "$slow_assess_ms / $slow_query_ms ms = $slow_ratio" "<= 1.3" \
  "$(verdict "$slow_ratio" 1.3)"
