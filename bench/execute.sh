#!/usr/bin/env bash
# Benchmark: how much time `rollback execute` adds to a rollback, against the seed's hand
# procedure and Ansible (`make bench` runs it through bench/run).
#
# Level 3 of bench/runbooks/level3.yaml (NEXT_PUBLIC_USE_BACKEND_API off in the harness
# app's .env.local, .env.production and .env; `supervisorctl restart frontend`; poll
# /api/health until it answers 200 with "backend_api":"false"), done three ways:
#
#  - `rollback execute --level 3 --yes` (release build, a fresh --state-dir every run);
#  - the seed's bash, bench/seed-level3.sh (`sed -i`, `supervisorctl restart`, curl loop);
#  - an equivalent Ansible playbook, bench/ansible/level3.yml (ansible-core: lineinfile,
#    command, uri with until), `-c local -i localhost,`, gather_facts false, pipelining on,
#    no interpreter discovery. Ansible takes 1-2 s a run (more on a busy machine), so it
#    gets max(5, BENCH_RUNS/4) runs; the others BENCH_RUNS.
#
# The baseline, bench/restart-and-verify.sh, is the same restart and the same curl poll
# (BENCH_POLL_INTERVAL, default 0.05 s, for both bash scripts) with nothing else: "the
# restart and health check by themselves". A contender's overhead is its median minus the
# baseline's median. Targets: rollback's overhead <= 30 ms, and Ansible's >= 20 x rollback's.
#
# `supervisorctl restart` (a Python program) takes 200-500 ms and the restarted frontend
# listens 20-150 ms after it returns, both varying from run to run (more on a busy machine),
# so the plain overhead is noisy. So every run's own restart and the moment its new
# frontend listens are also logged (a shim first on PATH; the frontend's "started_at"), and
# the "adjusted overhead" takes each run's own restart-until-listening out of its time
# before the medians: the same definition, without that noise. The fast contenders run in rotating rounds of
# about 5 runs each, so a slow phase of the machine falls on all of them alike. A fifth,
# diagnostic row runs rollback on the same runbook with `interval: 50ms` on the health
# check: its difference to rollback is what the executor's health poll schedule costs.
#
# Before every timed run (hyperfine --prepare) the flag is turned back on in the three
# files (for the baseline: off, so the restarted frontend answers false at once), and
# rollback's state directory is moved aside, so no lock or journal carries over; the moved
# journals give the breakdown of rollback's own time printed at the end. Before its timed
# runs each contender is checked once: flag on, frontend restarted and serving true, run
# the contender, then the three files must say false, /api/health "backend_api":"false",
# and the frontend must be a new process; the same state is checked after the timed runs.
#
# Not niced on purpose: libdispatch resets the nice value of its worker threads (Swift
# concurrency's cooperative pool) and of what they spawn, so `nice -n -10` would boost the
# bash contenders and not rollback.
#
# Medians of BENCH_RUNS (default 20, at least 10) runs with hyperfine. The binary is
# ROLLBACK_BIN if set, else a release build (make release). Starts the harness
# (scripts/harness/with-harness) unless ROLLBACK_TEST_PROM_URL is already set.
# Exits 0 whether or not the targets are met (it is a measurement), 1 if a contender does
# not actually flip the flag, 2 if a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
bench_on_harness "$0" "$@"
bench_runs
ansible_runs=$(( runs / 4 ))
if [ "$ansible_runs" -lt 5 ]; then ansible_runs=5; fi
bench_need hyperfine jq curl supervisorctl ansible-playbook
bench_binary

app=$ROLLBACK_TEST_APP_DIR
conf=$ROLLBACK_TEST_SUPERVISOR_CONF
url=$ROLLBACK_TEST_APP_URL
files=("$app/.env.local" "$app/.env.production" "$app/.env")
export BENCH_POLL_INTERVAL=${BENCH_POLL_INTERVAL:-0.05}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d "${TMPDIR:-/tmp}/rollback-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/journals" "$work/ansible-home"

# Ansible as fast as it goes on one machine; its home and temp files stay in $work.
export ANSIBLE_HOME=$work/ansible-home ANSIBLE_LOCAL_TEMP=$work/ansible-home/tmp
export ANSIBLE_PIPELINING=True ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_NOCOLOR=True

# --- the restart and the frontend's start, timed in every run -----------------------------
# Every contender restarts through `supervisorctl` found on PATH: a shim first on PATH logs
# when each `restart` began and ended (bash's $EPOCHREALTIME, no fork; it costs every
# contender the same one bash start). Every prepare command first logs when the frontend
# then running started listening (its /api/health "started_at", taken right before it
# binds), i.e. the frontend the previous run restarted. Together they give, for each run,
# how long the restart and the health check took "by themselves" in that very run: from
# the restart's start until the new frontend listens (or supervisorctl returns, if later).
# The adjusted overhead takes that out of each run's time before the medians, so the
# restart's own variation (tens to hundreds of ms) does not drown the contenders' costs.
real_supervisorctl=$(command -v supervisorctl)
mkdir -p "$work/bin"
cat >"$work/bin/supervisorctl" <<EOF
#!/bin/bash
case " \$* " in
  *" restart "*)
    start=\$EPOCHREALTIME
    "$real_supervisorctl" "\$@"
    status=\$?
    echo "\$start \$EPOCHREALTIME" >>"$work/restarts.log"
    exit \$status ;;
esac
exec "$real_supervisorctl" "\$@"
EOF
cat >"$work/note-frontend" <<EOF
#!/bin/sh
started=\$(curl -fsS --max-time 2 "$url/api/health" | jq -r '.started_at // "null"') || started=null
echo "\${started:-null}" >>"$work/frontends.log"
EOF
chmod +x "$work/bin/supervisorctl" "$work/note-frontend"
export PATH="$work/bin:$PATH"

# Runs hyperfine with both logs emptied, notes the last frontend, then writes JSON.full:
# hyperfine's results plus, per execution in the order they ran (each command's warm-up
# run, then its timed runs, command after command), "restarts" ([start, end] in epoch
# seconds) and "ready" (when the frontend it restarted started listening).
timed_hyperfine() { # JSON HYPERFINE-ARGS...
  local json=$1; shift
  : >"$work/restarts.log"
  : >"$work/frontends.log"
  hyperfine -N --style basic --export-json "$json" "$@" >&2
  "$work/note-frontend"
  jq --rawfile restarts "$work/restarts.log" --rawfile frontends "$work/frontends.log" '
    .restarts = [$restarts | splits("\n") | select(length > 0) | split(" ") | map(tonumber)]
    | .ready = ([$frontends | splits("\n") | select(length > 0)
                 | if . == "null" then null
                   else (.[0:19] + "Z" | fromdate) + ("0." + (.[20:] | rtrimstr("Z")) | tonumber) end]
                | .[1:])' "$json" >"$json.full"
}

# One result per command name given after the files, over all the files (rounds): median,
# min, max and quartiles of the times; the median restart (supervisorctl) and the median
# time from its end until the new frontend listened; and "adjusted": each run's time minus
# its own restart-until-listening (null unless the logs line up with the runs).
merge_rounds() { # OUT FILE.full... -- NAME...
  local out=$1; shift
  local files=()
  while [ "$1" != -- ]; do files+=("$1"); shift; done
  shift
  jq -s '
    def median: sort | length as $n | if $n % 2 == 1 then .[$n / 2 | floor] else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
    def quantile($q): sort | .[(length - 1) * $q | round];
    def ifall(f): if . == null then null else f end;
    [.[] | . as $round
      | ([.results[].times | length + 1] | add) as $expected
      | (($round.restarts | length) == $expected and ($round.ready | length) == $expected
         and all(range(0; $expected); . as $i | $round.ready[$i] != null
                 and $round.ready[$i] > $round.restarts[$i][0]
                 and $round.ready[$i] < $round.restarts[$i][0] + 60)) as $aligned
      | reduce range(0; $round.results | length) as $j ({offset: 0, out: []};
          $round.results[$j] as $res | ($res.times | length) as $n | .offset as $o
          | .out += [{command: $res.command, times: $res.times,
              runs: (if $aligned then [range($o + 1; $o + 1 + $n) as $i
                       | {restart: ($round.restarts[$i][1] - $round.restarts[$i][0]),
                          ready_after: ($round.ready[$i] - $round.restarts[$i][1]),
                          both: (([$round.restarts[$i][1], $round.ready[$i]] | max) - $round.restarts[$i][0])}]
                     else null end)}]
          | .offset += 1 + $n)
      | .out[]] as $all
    | {results: [$ARGS.positional[] as $name
        | [$all[] | select(.command == $name)] as $mine
        | [$mine[].times[]] as $times
        | (if any($mine[]; .runs == null) then null else [$mine[].runs[]] end) as $runs
        | (if $runs == null then null
           else [$mine[] | . as $m | range(0; $m.times | length) | $m.times[.] - $m.runs[.].both] end) as $adjusted
        | {command: $name, runs: ($times | length), median: ($times | median), min: ($times | min),
           max: ($times | max), q1: ($times | quantile(0.25)), q3: ($times | quantile(0.75)),
           restart_median: ($runs | ifall([.[].restart] | median)),
           ready_after_median: ($runs | ifall([.[].ready_after] | median)),
           adjusted_median: ($adjusted | ifall(median)),
           adjusted_q1: ($adjusted | ifall(quantile(0.25))),
           adjusted_q3: ($adjusted | ifall(quantile(0.75)))}]}' \
    "${files[@]}" --args "$@" >"$out"
}

# --- the prepare commands (run without a shell by hyperfine -N, so each is a script) ------
cat >"$work/flag-on" <<EOF
#!/bin/sh
"$work/note-frontend"
exec sed -i 's/^NEXT_PUBLIC_USE_BACKEND_API=.*/NEXT_PUBLIC_USE_BACKEND_API=true/' $(printf '%q ' "${files[@]}")
EOF
cat >"$work/flag-off" <<EOF
#!/bin/sh
"$work/note-frontend"
exec sed -i 's/^NEXT_PUBLIC_USE_BACKEND_API=.*/NEXT_PUBLIC_USE_BACKEND_API=false/' $(printf '%q ' "${files[@]}")
EOF
# Keep each run's journal (for the breakdown), then start from no state at all.
cat >"$work/prepare-rollback" <<EOF
#!/bin/sh
set -e
if [ -d "$work/state/runs" ]; then mv "$work/state/runs/"*.jsonl "$work/journals/" 2>/dev/null || true; fi
rm -rf "$work/state"
exec "$work/flag-on"
EOF
# The diagnostic variant: the same runbook with the health check polled every 50 ms, as
# the bash scripts poll, in a state directory of its own.
sed 's/^\( *interval:\) 2s$/\1 50ms/' bench/runbooks/level3.yaml >"$work/level3-poll50ms.yaml"
grep -q 'interval: 50ms' "$work/level3-poll50ms.yaml" || { echo "bench: cannot derive the 50 ms runbook" >&2; exit 2; }
sed "s|$work/state|$work/state-poll50ms|g; s|$work/journals/|$work/journals-poll50ms/|g" \
  "$work/prepare-rollback" >"$work/prepare-rollback-poll50ms"
mkdir -p "$work/journals-poll50ms"
chmod +x "$work/flag-on" "$work/flag-off" "$work/prepare-rollback" "$work/prepare-rollback-poll50ms"

rollback_cmd="$bin execute --runbook bench/runbooks/level3.yaml --level 3 --yes --state-dir $work/state"
poll50_cmd="$bin execute --runbook $work/level3-poll50ms.yaml --level 3 --yes --state-dir $work/state-poll50ms"
ansible_cmd="ansible-playbook -c local -i localhost, bench/ansible/level3.yml"

health() { curl -fsS --max-time 2 "$url/api/health" 2>/dev/null || true; }

# Flag on in the files and in the running frontend: the state an incident starts from.
incident_state() {
  "$work/flag-on"
  supervisorctl -c "$conf" restart frontend >/dev/null
  local tries=0
  until health | grep -q '"backend_api":"true"'; do
    tries=$(( tries + 1 ))
    [ "$tries" -lt 600 ] || { echo "bench: the frontend did not come back with the flag on" >&2; exit 1; }
    sleep 0.05
  done
}

# Fails the benchmark unless the three files and the frontend say the flag is off.
check_off() {
  local name=$1 file
  for file in "${files[@]}"; do
    if ! grep -qx 'NEXT_PUBLIC_USE_BACKEND_API=false' "$file" || grep -q '^NEXT_PUBLIC_USE_BACKEND_API=true' "$file"; then
      echo "bench: $name did not turn the flag off in $file:" >&2
      grep -n NEXT_PUBLIC_USE_BACKEND_API "$file" >&2 || true
      exit 1
    fi
  done
  local answer
  answer=$(health)
  if ! grep -q '"backend_api":"false"' <<<"$answer"; then
    echo "bench: after $name, /api/health answers ${answer:-nothing}, not \"backend_api\":\"false\"" >&2
    exit 1
  fi
}

# One real run of a contender from the incident state, checked.
check_contender() {
  local name=$1; shift
  incident_state
  local pid_before
  pid_before=$(health | jq -r .pid)
  if ! "$@" >"$work/check.out" 2>"$work/check.err"; then
    echo "bench: $name failed:" >&2
    tail -n 20 "$work/check.out" "$work/check.err" >&2
    exit 1
  fi
  check_off "$name"
  if [ "$(health | jq -r .pid)" = "$pid_before" ]; then
    echo "bench: $name did not restart the frontend" >&2
    exit 1
  fi
  echo "bench: checked: $name turns the flag off in 3 files and restarts the frontend" >&2
}

check_contender "rollback execute" $rollback_cmd
check_contender "rollback execute (health polled every 50 ms)" $poll50_cmd
rm -rf "$work/state" "$work/state-poll50ms"
check_contender "seed bash" bench/seed-level3.sh
check_contender "ansible-playbook" $ansible_cmd
"$work/flag-off"
bench/restart-and-verify.sh

# --- the timed runs: rounds of about 5 runs, the order rotating every round --------------
names=("restart + health check alone (baseline)" "rollback execute --level 3 --yes"
  "seed bash (sed -i, supervisorctl, curl)" "rollback, health polled every 50 ms")
prepares=("$work/flag-off" "$work/prepare-rollback" "$work/flag-on" "$work/prepare-rollback-poll50ms")
commands=("bench/restart-and-verify.sh" "$rollback_cmd" "bench/seed-level3.sh" "$poll50_cmd")
contenders=${#names[@]}
rounds=$(( (runs + 4) / 5 ))
for (( r = 0; r < rounds; r++ )); do
  n=$(( runs / rounds + (r < runs % rounds ? 1 : 0) ))
  args=()
  for (( k = 0; k < contenders; k++ )); do
    i=$(( (k + r) % contenders ))
    args+=(-n "${names[$i]}" --prepare "${prepares[$i]}" "${commands[$i]}")
  done
  echo "bench: round $(( r + 1 )) of $rounds ($n runs each)" >&2
  timed_hyperfine "$work/round-$r.json" --warmup 1 --runs "$n" "${args[@]}"
done
merge_rounds "$work/fast.json" "$work"/round-*.json.full -- "${names[@]}"
check_off "the timed runs"

# The journals of the runs (the last one is still in the state directory).
mv "$work/state/runs/"*.jsonl "$work/journals/" 2>/dev/null || true

timed_hyperfine "$work/ansible-round.json" --warmup 1 --runs "$ansible_runs" \
  -n "ansible-playbook (lineinfile, command, uri)" --prepare "$work/flag-on" "$ansible_cmd"
merge_rounds "$work/ansible.json" "$work/ansible-round.json.full" -- "ansible-playbook (lineinfile, command, uri)"
check_off "ansible-playbook (timed runs)"

# Process start and runbook load, alone: `rollback validate` on the same runbook.
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/validate.json" \
  -n "rollback validate (start + load)" "$bin validate --runbook bench/runbooks/level3.yaml" >&2

# --- the table ------------------------------------------------------------------------------
# (lib.sh's ms, but a missing field, as the adjusted figures can be, stays null)
ms() { jq -r ".results[$2].$3 | if . == null then null else . * 1000 | . * 10 | round / 10 end" "$1"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

base=$(ms "$work/fast.json" 0 median)
base_adj=$(ms "$work/fast.json" 0 adjusted_median)
# Overhead: median minus the baseline's median. Adjusted overhead: the same with each run's
# own restart-until-listening taken out first.
adj_over() { # file index
  local adj
  adj=$(ms "$1" "$2" adjusted_median)
  if [ "$adj" = null ] || [ "$base_adj" = null ]; then echo "n/a"; else sub "$adj" "$base_adj"; fi
}
row() { # name file index runs [-: the baseline itself]
  local med min max over adj
  med=$(ms "$2" "$3" median); min=$(ms "$2" "$3" min); max=$(ms "$2" "$3" max)
  over=${5:-$(sub "$med" "$base")}
  adj=${5:-$(adj_over "$2" "$3")}
  printf '  %-46s %4s %8s %8s %8s %8s %6s %8s %8s %8s\n' "$1" "$4" "$med" "$min" "$max" "$over" \
    "$(ratio "$med" "$base")" "$(ms "$2" "$3" restart_median)" "$(ms "$2" "$3" ready_after_median)" "$adj"
}
rollback_ms=$(ms "$work/fast.json" 1 median)
seed_ms=$(ms "$work/fast.json" 2 median)
poll50_ms=$(ms "$work/fast.json" 3 median)
ansible_ms=$(ms "$work/ansible.json" 0 median)
rollback_over=$(sub "$rollback_ms" "$base")
seed_over=$(sub "$seed_ms" "$base")
poll50_over=$(sub "$poll50_ms" "$base")
ansible_over=$(sub "$ansible_ms" "$base")
rollback_adj=$(adj_over "$work/fast.json" 1)
seed_adj=$(adj_over "$work/fast.json" 2)
poll50_adj=$(adj_over "$work/fast.json" 3)
ansible_adj=$(adj_over "$work/ansible.json" 0)
within() { awk -v o="$1" 'BEGIN { print (o == "n/a" ? "n/a" : (o <= 30 ? "met" : "NOT met")) }'; }
# A rollback overhead at or below zero is below what the restart's own noise lets this measure:
# the ratio has no bound then, and says so.
times_smaller() { awk -v a="$1" -v r="$2" 'BEGIN { if (a == "n/a" || r == "n/a") print "n/a"; else if (r <= 0) print "unbounded (rollback <= 0, within the noise)"; else printf "%.1f", a / r }'; }
twenty() { awk -v x="$1" 'BEGIN { print (x == "n/a" ? "n/a" : ((x ~ /^unbounded/ || x >= 20) ? "met" : "NOT met")) }'; }
over_ratio=$(times_smaller "$ansible_over" "$rollback_over")
adj_ratio=$(times_smaller "$ansible_adj" "$rollback_adj")

# Inside rollback, from the journals of its runs: one record per run, then medians (ms).
jq -s '
  def t: (.[0:19] + "Z" | fromdate) + (.[20:23] | tonumber / 1000);
  def health: capture("healthy after (?<n>[0-9.]+)(?<u>ms|s)") | (.n | tonumber) / (if .u == "ms" then 1000 else 1 end);
  . as $events
  | [foreach $events[] as $e ({run: null, steps: []};
      if $e.event == "run-started" then {run: $e, steps: []}
      elif $e.event == "step-finished" then .steps += [$e]
      else . end;
      if $e.event == "run-finished" then
        {run_s: $e.duration_s,
         before_first_step_s: ((.steps[0].started_at | t) - (.run.started_at | t)),
         flag_s: (.steps[] | select(.id == "disable-flag") | .duration_s),
         restart_s: (.steps[] | select(.id == "restart-frontend") | .duration_s),
         health_s: (.steps[] | select(.id == "restart-frontend") | .detail | health),
         after_last_step_s: (($e.finished_at | t) - (.steps[-1].at | t))}
      else empty end)]' "$work/journals/"*.jsonl >"$work/inside.json"
jmed() { # field of $work/inside.json -> median in ms
  jq -r "[.[].$1] | sort | if length == 0 then null else .[length / 2 | floor] * 1000 | . * 10 | round / 10 end" "$work/inside.json"
}
journals=$(jq length "$work/inside.json")
j_late=$(jq '[.[] | select(.health_s >= 0.2)] | length' "$work/inside.json")  # healthy only after 200 ms
rollback_restart=$(ms "$work/fast.json" 1 restart_median)
validate_ms=$(ms "$work/validate.json" 0 median)

echo
echo "rollback execute benchmark: level 3 (flag off in 3 files, supervisord restart, HTTP verify)"
echo "hyperfine; $runs runs each in $rounds rotating rounds, Ansible $ansible_runs runs (1-2 s a run);" \
  "bash poll interval ${BENCH_POLL_INTERVAL} s;" \
  "load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
printf '  %-46s %4s %8s %8s %8s %8s %6s %8s %8s %8s\n' "" "runs" "median" "min" "max" "overhead" "x base" "restart" "listens" "adjusted"
printf '  %-46s %4s %8s %8s %8s %8s %6s %8s %8s %8s\n' "" "" "ms" "ms" "ms" "ms" "" "ms" "+ms" "overhead"
row "restart + health check alone (baseline)" "$work/fast.json" 0 "$runs" -
row "rollback execute --level 3 --yes" "$work/fast.json" 1 "$runs"
row "seed bash (sed -i, supervisorctl, curl)" "$work/fast.json" 2 "$runs"
row "ansible-playbook (lineinfile, command, uri)" "$work/ansible.json" 0 "$ansible_runs"
row "diagnostic: rollback, health polled each 50 ms" "$work/fast.json" 3 "$runs"
echo "  overhead: median - the baseline's median (the baseline's runs spread over an interquartile range of" \
  "$(sub "$(ms "$work/fast.json" 0 q3)" "$(ms "$work/fast.json" 0 q1)") ms)"
echo "  restart: median of the runs' own \`supervisorctl restart\`; listens: median time from its end until the new frontend"
echo "  listened; adjusted overhead: the same medians with each run's own restart-until-listening taken out first (the" \
  "baseline's adjusted runs spread over $(sub "$(ms "$work/fast.json" 0 adjusted_q3)" "$(ms "$work/fast.json" 0 adjusted_q1)") ms)"
echo "  rollback overhead:             $rollback_over ms (target <= 30 ms: $(within "$rollback_over"));" \
  "adjusted $rollback_adj ms ($(within "$rollback_adj"))"
echo "  ansible overhead / rollback's: $over_ratio (target >= 20: $(twenty "$over_ratio"));" \
  "adjusted $adj_ratio ($(twenty "$adj_ratio"))"
echo "  seed bash overhead:            $seed_over ms; adjusted $seed_adj ms"
echo "  the health poll schedule (every 10 ms for 2 s, then backing off to the 2 s interval) against polling every 50 ms:" \
  "$(sub "$rollback_ms" "$poll50_ms") ms; adjusted $(awk -v a="$rollback_adj" -v b="$poll50_adj" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else printf "%.1f", a - b }') ms"
echo "Inside rollback execute (medians over its $journals timed and warm-up runs, from their journals):"
echo "  before the run: process start, arguments, runbook load (median wall - run)  $(sub "$rollback_ms" "$(jmed run_s)") ms"
echo "    rollback validate alone on this runbook (start, load, exit)              $validate_ms ms"
echo "  the run, as journalled                                                     $(jmed run_s) ms"
echo "    preflight, lock, journal, up to the first step                           $(jmed before_first_step_s) ms"
echo "    disable-flag (3 files: backups, atomic replace, fsyncs)                  $(jmed flag_s) ms"
echo "    restart-frontend                                                         $(jmed restart_s) ms"
echo "      supervisorctl restart itself (timed by the shim)                       $rollback_restart ms"
echo "      waiting for health after it                                            $(jmed health_s) ms   ($j_late of $journals runs took 200 ms or more)"
echo "        the frontend listening after supervisorctl returned (all rollback runs)   $(ms "$work/fast.json" 1 ready_after_median) ms"
echo "    after the last step (journal, lock release)                              $(jmed after_last_step_s) ms"

summary "execute level 3: rollback overhead" "$rollback_over ms (adjusted $rollback_adj ms)" "<= 30 ms" \
  "$(within "$rollback_over") (adjusted: $(within "$rollback_adj"))"
summary "execute level 3: Ansible / rollback overhead" "$ansible_over / $rollback_over ms = $over_ratio (adj. $adj_ratio)" \
  ">= 20" "$(twenty "$over_ratio") (adjusted: $(twenty "$adj_ratio"))"
summary "execute level 3: seed bash overhead" "$seed_over ms (adjusted $seed_adj ms)" "-" "-"
