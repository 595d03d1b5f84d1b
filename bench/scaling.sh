#!/usr/bin/env bash
# Scaling benchmark: how `rollback` grows with the size of what it works on.
#
#  1. assess with 10, 50, 200 Prometheus signals against the harness (target: 200 in
#     at most 1 s). Every signal reads its own series; a run with an unknown signal is
#     inconclusive (exit 3) and hyperfine refuses it, so every measured run read them all.
#  2. flag flip on one .env file of 1k, 10k, 100k lines (target: 100k in at most 50 ms,
#     peak RSS measured): `flag disable --yes` and `flag enable --yes`, each run from a
#     fresh copy of the file and a fresh --state-dir (hyperfine --prepare), then checked
#     (only the flag line changed; the backup holds the old file); `flag status` (read-only)
#     for comparison.
#  3. validate of a runbook with 500, 1000, 2000 steps (run, http, wait, notify, check, flag).
#  4. history over 100, 1000, 10000 journals made from a real run's journal (a 6-step level 3
#     executed on the harness): text, --json, and --limit 20 for comparison.
#
# Generated inputs come from bench/gen/ (Python 3, stdlib only). Medians of BENCH_RUNS
# (default 20, at least 10) runs with hyperfine; a case whose first run takes more than
# BENCH_SLOW_MS (default 2000) ms gets BENCH_SLOW_RUNS (default 5) runs instead, shown in
# the runs column. Peak RSS: the largest of 3 runs under GNU time (`/usr/bin/time -f %M`).
# CPU: hyperfine's mean user + system time, the steadier figure on a busy machine; growth
# factors are given for both (bench/gen/growth.py).
# The binary: ROLLBACK_BIN if set, else a release build (bench/lib.sh). Starts the harness
# (scripts/harness/with-harness) unless ROLLBACK_TEST_PROM_URL is already set. Prints the
# tables and growth factors; exits 0 whether or not the targets are met (a measurement).
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
bench_on_harness "$0" "$@"
bench_runs
slow_ms=${BENCH_SLOW_MS:-2000}
slow_runs=${BENCH_SLOW_RUNS:-5}
python=/usr/bin/python3
bench_need hyperfine jq curl "$python"
if ! [ -x /usr/bin/time ] || ! [[ "$(/usr/bin/time -f %M true 2>&1)" =~ ^[0-9]+$ ]]; then
  echo "bench: GNU time (/usr/bin/time -f %M) is missing; it measures peak RSS: apt-get install -y time" >&2
  exit 2
fi
bench_binary

work=$(mktemp -d "${TMPDIR:-/tmp}/rollback-scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT
rows=$work/rows.tsv
: >"$rows"
gen=bench/gen

now_ms() { echo $(($(date +%s%N) / 1000000)); }
q() { printf '%q ' "$@"; }

# measure FAMILY UNIT SERIES SIZE LABEL PREPARE CMD...
# Times CMD with hyperfine (PREPARE, a shell line or "", runs before each run) and its peak
# RSS (largest of 3 runs), and appends a row to $rows; a failed run is a row noted FAILED.
measure() {
  local family=$1 unit=$2 series=$3 size=$4 label=$5 prepare=$6
  shift 6
  local cmd n warmup start took json=$work/hf-$RANDOM$RANDOM.json note="" rss=0 kib
  cmd=$(q "$@")
  [ -z "$prepare" ] || bash -c "$prepare"
  start=$(now_ms)
  "$@" >/dev/null 2>&1 || true
  took=$(($(now_ms) - start))
  n=$runs warmup=3
  if [ "$took" -gt "$slow_ms" ]; then n=$slow_runs warmup=1 note="slow ($took ms): $n runs"; fi
  local args=(-N --style basic --warmup "$warmup" --runs "$n" --export-json "$json" -n "$series $label")
  [ -z "$prepare" ] || args+=(--prepare "bash -c $(printf '%q' "$prepare")")
  local measured=yes
  if ! hyperfine "${args[@]}" "$cmd" >&2; then
    measured=""
    note="FAILED: a run exited non-zero${note:+; $note}"
  fi
  for _ in 1 2 3; do
    [ -z "$prepare" ] || bash -c "$prepare"
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
    kib=$(tail -n 1 "$work/rss")
    if [ "$kib" -gt "$rss" ]; then rss=$kib; fi
  done
  if [ -n "$measured" ]; then
    jq -r --arg f "$family" --arg u "$unit" --arg s "$series" --arg z "$size" --arg l "$label" \
      --arg n "$n" --arg r "$rss" --arg note "$note" \
      '.results[0] | [$f, $u, $s, $z, $l, $n, .median * 1000, .min * 1000, .max * 1000, $r, $note,
        (.user + .system) * 1000] | @tsv' \
      "$json" >>"$rows"
  else
    printf '%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t-\t%s\t%s\t-\n' "$family" "$unit" "$series" "$size" "$label" "$n" \
      "$rss" "$note" >>"$rows"
  fi
}

target() { if [ -n "$1" ]; then verdict "$1" "$2"; else echo "not measured"; fi; }
notes=()

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 0. the fixed cost every command pays ---------------------------------------------
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/start.json" \
  -n "process start" "$(q "$bin" --version)" >&2
start_ms=$(ms "$work/start.json" 0 median)
/usr/bin/time -f %M -o "$work/rss" "$bin" --version >/dev/null
start_rss=$(awk '{ printf "%.1f", $1 / 1024 }' "$work/rss")

# --- 1. assess with N Prometheus signals -------------------------------------------------
sizes_assess=(10 50 200)
max_signals=200
metrics=$ROLLBACK_TEST_METRICS_FILE
"$python" "$gen"/assess_runbook.py "$max_signals" "$work/assess-$max_signals.yaml" "$work/scale.prom"
if ! grep -q 'test_scale_signal{bench="scaling"' "$metrics"; then
  { cat "$metrics"; cat "$work/scale.prom"; } >"$metrics.scaling.tmp"
  mv "$metrics.scaling.tmp" "$metrics"
fi
echo "bench: waiting for Prometheus to scrape the $max_signals test_scale_signal series" >&2
seen=0
for _ in $(seq 1 100); do
  seen=$(curl -fsS "$ROLLBACK_TEST_PROM_URL/api/v1/query" \
    --data-urlencode 'query=count(test_scale_signal{bench="scaling"})' |
    jq -r '.data.result[0].value[1] // 0') || seen=0
  [ "$seen" = "$max_signals" ] && break
  sleep 0.2
done
[ "$seen" = "$max_signals" ] || { echo "bench: Prometheus sees $seen of $max_signals series" >&2; exit 1; }

for n in "${sizes_assess[@]}"; do
  rb=$work/assess-$n.yaml
  "$python" "$gen"/assess_runbook.py "$n" "$rb" "$work/unused.prom"
  "$bin" validate --runbook "$rb" >&2
  state=$work/assess-state-$n
  cmd=("$bin" assess --runbook "$rb" --state-dir "$state")
  "${cmd[@]}" --json >"$work/assess-$n-before.json" 2>/dev/null || true
  measure "assess: N Prometheus signals against the harness" signals "" "$n" "$n" "" "${cmd[@]}"
  "${cmd[@]}" --json >"$work/assess-$n-after.json" 2>/dev/null || true
  for when in before after; do
    f=$work/assess-$n-$when.json
    unknown=$(jq '[.signals[] | select(.value == null)] | length' "$f")
    notes+=("assess $n signals, one --json run $when the timing: verdict $(jq -r .verdict "$f"), \
$unknown unknown, signals read in $(jq -r .duration_s "$f") s")
  done
done
assess_200=$(awk -F'\t' '$1 ~ /^assess/ && $4 == 200 { printf "%.1f", $7 }' "$rows")

# --- 2. flag flip on one .env of 1k, 10k, 100k lines --------------------------------------
sizes_flag=(1000 10000 100000)
label() { awk -v n="$1" 'BEGIN { if (n >= 1000 && n % 1000 == 0) print n / 1000 "k"; else print n }'; }
flag_family="flag: one .env file of N lines"
for n in "${sizes_flag[@]}"; do
  d=$work/flag-$n
  info=$("$python" "$gen"/dotenv_file.py "$n" "$d")
  notes+=("flag file $(label "$n"): $info")
  rb=$d/runbook.yaml
  "$bin" validate --runbook "$rb" >&2
  l=$(label "$n")
  measure "$flag_family" lines "flag status" "$n" "$l" "" \
    "$bin" flag status --runbook "$rb" --state-dir "$d/state-status"
  measure "$flag_family" lines "flag disable --yes" "$n" "$l" \
    "cp $d/env.on $d/app/.env && rm -rf $d/state" \
    "$bin" flag disable --yes --runbook "$rb" --state-dir "$d/state"
  # The last disable: only the flag line changed, and the backup is the file as it was.
  changed=$(diff "$d/env.on" "$d/app/.env" | grep -c '^[<>]' || true)
  flag_line=$(diff "$d/env.on" "$d/app/.env" | grep '^>' || true)
  backup_ok=no
  for b in "$d"/state/backups/*/*; do cmp -s "$b" "$d/env.on" && backup_ok=yes; done
  if cmp -s "$d/app/.env" "$d/env.off" && [ "$changed" = 2 ] &&
    [ "$flag_line" = "> NEXT_PUBLIC_USE_BACKEND_API=false" ] && [ "$backup_ok" = yes ]; then
    disable_check="correct (1 line changed: $flag_line; backup identical to the old file)"
  else
    disable_check="WRONG: $changed diff lines ($flag_line), backup identical: $backup_ok"
  fi
  measure "$flag_family" lines "flag enable --yes" "$n" "$l" \
    "cp $d/env.off $d/app/.env && rm -rf $d/state" \
    "$bin" flag enable --yes --runbook "$rb" --state-dir "$d/state"
  if cmp -s "$d/app/.env" "$d/env.on"; then enable_check="correct (byte-identical to the original)"; else
    enable_check="WRONG: differs from the original"
  fi
  notes+=("flag $l: disable $disable_check; enable $enable_check")
done
flag_100k=$(awk -F'\t' '$3 == "flag disable --yes" && $4 == 100000 { printf "%.1f", $7 }' "$rows")

# --- 3. validate of a runbook with N steps -----------------------------------------------
for n in 500 1000 2000; do
  rb=$work/validate-$n.yaml
  "$python" "$gen"/steps_runbook.py "$n" "$rb"
  out=$("$bin" validate --runbook "$rb" 2>&1) || { echo "bench: $rb does not validate: $out" >&2; exit 1; }
  notes+=("validate $n steps ($(wc -l <"$rb") YAML lines): $out")
  measure "validate: a runbook of N steps" steps "" "$n" "$n" "" "$bin" validate --runbook "$rb"
done

# --- 4. history over N journals ------------------------------------------------------------
h=$work/history
"$python" "$gen"/journals.py runbook "$h"
"$bin" execute --level 3 --yes --runbook "$h/runbook.yaml" --state-dir "$h/template" >/dev/null 2>&1 ||
  { echo "bench: the template run for history failed" >&2; exit 1; }
template=$(ls "$h"/template/runs/*.jsonl)
notes+=("history template: a real run of a 6-step level 3, $(wc -l <"$template") events, $(wc -c <"$template") bytes")
for n in 100 1000 10000; do
  state=$h/state-$n
  "$python" "$gen"/journals.py expand "$template" "$n" "$state"
  listed=$("$bin" history --runbook "$h/runbook.yaml" --state-dir "$state" --json | jq length)
  notes+=("history $(label "$n"): $(du -sh "$state/runs" | cut -f1) of journals; --json lists $listed runs")
  l=$(label "$n")
  measure "history: N journals in the state directory" journals "history" "$n" "$l" "" \
    "$bin" history --runbook "$h/runbook.yaml" --state-dir "$state"
  measure "history: N journals in the state directory" journals "history --json" "$n" "$l" "" \
    "$bin" history --runbook "$h/runbook.yaml" --state-dir "$state" --json
  measure "history: N journals in the state directory" journals "history --limit 20" "$n" "$l" "" \
    "$bin" history --runbook "$h/runbook.yaml" --state-dir "$state" --limit 20
done

echo
echo "rollback scaling benchmark (hyperfine medians of $runs runs unless the runs column says fewer;"
echo "CPU: mean user + system; peak RSS: largest of 3 runs under /usr/bin/time -f %M; binary $bin)"
echo "  process start (rollback --version): $start_ms ms, $start_rss MiB: every row includes it"
echo "  load average (1, 5, 15 min) on $(nproc) cores: $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
"$python" "$gen"/growth.py "$rows"
echo
echo "targets"
echo "  assess, 200 signals:      $assess_200 ms   (target <= 1000 ms: $(target "$assess_200" 1000))"
echo "  flag disable, 100k lines: $flag_100k ms   (target <= 50 ms: $(target "$flag_100k" 50))"
summary "scaling: assess, 200 signals" "$assess_200 ms" "<= 1000 ms" "$(target "$assess_200" 1000)"
summary "scaling: flag disable, 100k-line .env" "$flag_100k ms" "<= 50 ms" "$(target "$flag_100k" 50)"
validate_2000=$(awk -F'\t' '$1 ~ /^validate/ && $4 == 2000 { printf "%.1f", $7 }' "$rows")
history_10k=$(awk -F'\t' '$3 == "history" && $4 == 10000 { printf "%.1f", $7 }' "$rows")
summary "scaling: validate, 2000 steps" "$validate_2000 ms" "-" "-"
summary "scaling: history, 10000 journals" "$history_10k ms" "-" "-"
echo
echo "checks"
for note in "${notes[@]}"; do echo "  $note"; done
