#!/usr/bin/env bash
# Benchmark: a rollback across a fleet (`make bench` runs it through bench/run fleet).
#
# On 5, 20 and 50 test hosts (BENCH_FLEET_SIZES), each started by the project's fleet
# harness (scripts/harness/fleet/up -n N: sshd's on 127.0.0.11 … in their own mount
# namespaces, each with supervisord and the sample frontend), the same rollback three ways,
# in the same batches, [1, "50%", "100%"] (cumulative: 1 host, then up to ceil(N/2), then
# all), every host of a batch at once:
#
#  - `rollback execute --level 3 --yes` of bench/runbooks/fleet.yaml, written for the N
#    hosts by bench/gen/fleet_runbook.py (a rolling step: flag off in the three dotenv
#    files, restart under supervisord, health over HTTP expecting "backend_api":"false");
#  - the floor, bench/fleet-ssh.sh: what an engineer writes by hand over ssh (one
#    ControlMaster connection per host, `sed -i`, `supervisorctl restart`, a curl loop);
#  - ansible-playbook bench/ansible/fleet.yml (lineinfile, command, uri) with the same
#    batches as `serial`, forks N, pipelining, the fleet's ssh config.
#
# Before every run (hyperfine --prepare, not timed) bench/fleet_hosts.py reset puts every
# host back in the incident state: the flag on in its three files and its frontend
# restarted serving "true" (through its supervisord's socket, no ssh); rollback's state
# directory is removed; Ansible's ssh masters are closed. Each contender is first run once
# checked: afterwards every host's three files must say false, its /api/health
# "backend_api":"false" from a new process (else the benchmark fails); that run also counts
# the SSH connections each host accepted ("Accepted publickey" lines of its sshd.log), and
# rollback's runs under /usr/bin/time -v for its peak memory.
#
# Reported per N: median wall time of BENCH_FLEET_RUNS (default 3) runs each (hyperfine),
# rollback / floor (target <= 1.3), Ansible / rollback (target >= 5), rollback's peak RSS,
# SSH connections per host for each contender. Hosts that do not come up are reported and
# that N is skipped (exit 1 at the end). FLEET_TIMEOUT (default 60 + 3N s) bounds the
# fleet's start. Needs root (the fleet does). Exits 0 whether or not the targets are met,
# 1 if a contender did not do its job or a fleet could not start, 2 if a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
bench_need hyperfine jq curl ssh supervisorctl ansible-playbook /usr/bin/python3
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (make bench-deps)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: the test fleet needs root (mount namespaces, sshd)" >&2; exit 2; }
bench_binary
fleet_runs=${BENCH_FLEET_RUNS:-3}
sizes=${BENCH_FLEET_SIZES:-5 20 50}

work=$(mktemp -d "${TMPDIR:-/tmp}/rollback-bench-fleet.XXXXXX")
fleet_dir=""
cleanup() {
  if [ -n "$fleet_dir" ]; then scripts/harness/fleet/down "$fleet_dir" || true; fi
  if [ "${BENCH_FLEET_KEEP:-0}" = 1 ]; then echo "bench: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ansible: its home, temp files and ssh masters in $work; pipelining; no retry files.
export ANSIBLE_HOME=$work/ansible-home ANSIBLE_LOCAL_TEMP=$work/ansible-home/tmp
export ANSIBLE_SSH_CONTROL_PATH_DIR=$work/acp
export ANSIBLE_PIPELINING=True ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_NOCOLOR=True
# (Not ANSIBLE_HOST_KEY_CHECKING=True, its default: rollback masks the value of every variable
# whose name has a secret word such as KEY in its output and journal, and "True" is everywhere.)
export ANSIBLE_STDOUT_CALLBACK=default
mkdir -p "$work/ansible-home" "$work/acp"

secs() { jq -r ".results[$2].$3 | . * 100 | round / 100" "$1"; }
minmax() { tr ' ' '\n' | sort -n | sed -n '1p;$p' | paste -sd ' ' | awk '{ print ($1 == $2 ? $1 : $1 "-" $2) }'; }
# The per-host difference of two `fleet_hosts.py connections` outputs.
diff_counts() { paste -d ' ' <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") | awk '{ print $2 - $1 }' | paste -sd ' '; }

table=()
insides=()
status=0
for n in $sizes; do
  echo >&2
  echo "== fleet of $n hosts" >&2
  up_start=$(date +%s%N)
  if ! FLEET_TIMEOUT=${FLEET_TIMEOUT:-$((60 + 3 * n))} scripts/harness/fleet/up -n "$n" >"$work/fleet-$n.env" 2>"$work/fleet-$n.log"; then
    tail -n 30 "$work/fleet-$n.log" >&2
    echo "bench: a fleet of $n hosts did not come up; skipping $n hosts" >&2
    table+=("$n	did not come up")
    summary "fleet $n hosts" "the $n test hosts did not come up" "-" "not run"
    status=1
    continue
  fi
  # shellcheck source=/dev/null
  . "$work/fleet-$n.env"
  fleet_dir=$ROLLBACK_FLEET_DIR
  port=$ROLLBACK_FLEET_APP_PORT
  echo "bench: $n hosts up in $(( ($(date +%s%N) - up_start) / 1000000 )) ms ($fleet_dir)" >&2

  # The three contenders for these hosts.
  runbook=$work/fleet-$n.yaml
  bench/gen/fleet_runbook.py "$n" "$ROLLBACK_FLEET_SSH_CONFIG" "$port" >"$runbook"
  "$bin" validate --runbook "$runbook" >"$work/validate.out" 2>&1 ||
    { cat "$work/validate.out" >&2; echo "bench: the generated runbook does not validate" >&2; exit 1; }
  inventory=$work/inventory-$n.ini
  {
    echo "[web]"
    for ((k = 1; k <= n; k++)); do echo "host-$k address=127.0.0.$((10 + k))"; done
    echo "[web:vars]"
    echo "ansible_ssh_common_args='-F $ROLLBACK_FLEET_SSH_CONFIG'"
    echo "ansible_python_interpreter=/usr/bin/python3"
  } >"$inventory"
  half=$(((n + 1) / 2))
  serial=$(jq -cn --argjson a 1 --argjson b $((half - 1)) --argjson c $((n - half)) '[$a, $b, $c] | map(select(. > 0))')
  extra=$(jq -cn --argjson s "$serial" --arg p "$port" '{fleet_serial: $s, app_port: $p}')

  state=$work/state-$n
  cat >"$work/rollback-$n" <<EOF
#!/bin/sh
exec >$(printf '%q' "$work/rollback-$n.log") 2>&1
exec $(printf '%q' "$bin") execute --runbook $(printf '%q' "$runbook") --level 3 --yes --state-dir $(printf '%q' "$state")
EOF
  cat >"$work/ssh-$n" <<EOF
#!/bin/sh
exec >$(printf '%q' "$work/ssh-$n.log") 2>&1
exec $(printf '%q' "$PWD/bench/fleet-ssh.sh") $(printf '%q' "$ROLLBACK_FLEET_SSH_CONFIG") $port $n
EOF
  cat >"$work/ansible-$n" <<EOF
#!/bin/sh
exec >$(printf '%q' "$work/ansible-$n.log") 2>&1
exec ansible-playbook -i $(printf '%q' "$inventory") -f $n -e '$extra' $(printf '%q' "$PWD/bench/ansible/fleet.yml")
EOF
  # The incident state before every run (not timed).
  mkdir -p "$work/journals-$n"
  cat >"$work/reset-$n" <<EOF
#!/bin/sh
set -e
mv $(printf '%q' "$state")/runs/*.jsonl $(printf '%q' "$work/journals-$n")/ 2>/dev/null || true
rm -rf $(printf '%q' "$state")
for sock in $(printf '%q' "$work/acp")/*; do
  [ -S "\$sock" ] && ssh -o ControlPath="\$sock" -O exit host-0 2>/dev/null || true
done
exec /usr/bin/python3 $(printf '%q' "$PWD/bench/fleet_hosts.py") reset $(printf '%q' "$fleet_dir") $n $port
EOF
  chmod +x "$work/rollback-$n" "$work/ssh-$n" "$work/ansible-$n" "$work/reset-$n"

  # Each contender once, checked; its SSH connections per host; rollback's peak memory.
  declare -A conns=()
  for who in rollback ssh ansible; do
    "$work/reset-$n"
    before=$(bench/fleet_hosts.py connections "$fleet_dir" "$n" "$port")
    run=("$work/$who-$n")
    [ "$who" = rollback ] && run=(/usr/bin/time -v -o "$work/time-$n.txt" "$work/$who-$n")
    if ! "${run[@]}"; then
      echo "bench: $who on $n hosts failed:" >&2
      tail -n 30 "$work/$who-$n.log" >&2
      exit 1
    fi
    bench/fleet_hosts.py check "$fleet_dir" "$n" "$port" "$who" || { tail -n 30 "$work/$who-$n.log" >&2; exit 1; }
    after=$(bench/fleet_hosts.py connections "$fleet_dir" "$n" "$port")
    conns[$who]=$(diff_counts "$before" "$after" | minmax)
    echo "bench: checked: $who flips all 3 files and restarts the frontend on each of $n hosts;" \
      "SSH connections per host: ${conns[$who]}" >&2
  done
  rss_kib=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$work/time-$n.txt")
  rss=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f MiB", k / 1024 }')

  hyperfine -N --style basic --runs "$fleet_runs" --export-json "$work/fleet-$n.json" \
    -n "rollback execute" --prepare "$work/reset-$n" "$work/rollback-$n" \
    -n "ssh floor" --prepare "$work/reset-$n" "$work/ssh-$n" \
    -n "ansible-playbook" --prepare "$work/reset-$n" "$work/ansible-$n" >&2 || {
    for who in rollback ssh ansible; do
      echo "--- the last run of $who on $n hosts:" >&2
      tail -n 25 "$work/$who-$n.log" >&2 || true
    done
    echo "bench: a timed run on $n hosts failed" >&2
    exit 1
  }
  bench/fleet_hosts.py check "$fleet_dir" "$n" "$port" "ansible-playbook (timed runs)"
  "$work/reset-$n" # the last rollback journal too (and the hosts as they started)

  # Inside rollback (medians over its journals): the run up to the rolling step (preflight:
  # masters opened, files read, host locks), the rolling step, what follows it.
  inside=$(jq -rs '
    def t: (.[0:19] + "Z" | fromdate) + ((.[19:] | capture("^\\.(?<f>[0-9]+)") | ("0." + .f | tonumber)) // 0);
    def median: sort | if length == 0 then null else .[length / 2 | floor] * 100 | round / 100 end;
    [foreach .[] as $e ({run: null, step: null};
      if $e.event == "run-started" then {run: $e, step: null}
      elif $e.event == "step-finished" and $e.id == "frontend-off" and ($e.host == null) then .step = $e
      else . end;
      if $e.event == "run-finished" and .step != null then
        {before: ((.step.started_at | t) - (.run.started_at | t)), step: .step.duration_s,
         after: (($e.finished_at | t) - (.step.at | t)), run: $e.duration_s}
      else empty end)] as $runs
    | "\([$runs[].before] | median) s before the rolling step (preflight: ssh masters, reads, host locks)," +
      " \([$runs[].step] | median) s the rolling step, \([$runs[].after] | median) s after it" +
      " (\($runs | length) journals)"' "$work/journals-$n"/*.jsonl 2>"$work/jq.err") || inside="(journals not readable: $(head -c 300 "$work/jq.err"))"
  echo "bench: inside rollback on $n hosts: $inside" >&2

  r=$(secs "$work/fleet-$n.json" 0 median)
  f=$(secs "$work/fleet-$n.json" 1 median)
  a=$(secs "$work/fleet-$n.json" 2 median)
  over_floor=$(ratio "$r" "$f")
  faster=$(ratio "$a" "$r")
  # Verdicts on the unrounded ratios (1.303 is not <= 1.3).
  v_floor=$(awk -v r="$r" -v f="$f" 'BEGIN { print (r / f <= 1.3 ? "met" : "NOT met") }')
  v_ansible=$(awk -v a="$a" -v r="$r" 'BEGIN { print (a / r >= 5 ? "met" : "NOT met") }')
  insides+=("$n hosts: $inside")
  table+=("$n	$r	$(secs "$work/fleet-$n.json" 0 min)-$(secs "$work/fleet-$n.json" 0 max)	$f	$a	$over_floor	$faster	$rss	${conns[rollback]} / ${conns[ssh]} / ${conns[ansible]}")
  summary "fleet $n hosts: rollback / ssh floor" "$r s / $f s = $over_floor" "<= 1.3" "$v_floor"
  summary "fleet $n hosts: Ansible / rollback" "$a s / $r s = $faster" ">= 5" "$v_ansible"
  # What the >= 5 target means here: how much slower Ansible is than the hand-written floor.
  summary "fleet $n hosts: Ansible / ssh floor" "$a s / $f s = $(ratio "$a" "$f")" "(context)" "-"
  summary "fleet $n hosts: peak RSS, ssh per host" "$rss; connections ${conns[rollback]} (floor ${conns[ssh]}, Ansible ${conns[ansible]})" "1/host" \
    "$([ "${conns[rollback]}" = 1 ] && echo met || echo "NOT met")"

  scripts/harness/fleet/down "$fleet_dir" || true
  fleet_dir=""
  unset conns
done

echo
echo "fleet benchmark: flag off in 3 files + supervisord restart + HTTP verify on every host," \
  "batches [1, \"50%\", \"100%\"], all hosts of a batch at once"
echo "hyperfine, $fleet_runs runs each, medians in seconds; machine: $(nproc) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf '  %5s %9s %13s %9s %9s %10s %10s %10s  %s\n' hosts rollback "(min-max)" "ssh floor" ansible "r / floor" "ans. / r" "r peak RSS" "ssh connections per host: rollback / floor / ansible"
for line in "${table[@]}"; do
  IFS=$'\t' read -r n r range f a of fa rss c <<<"$line"
  if [ -z "${range:-}" ]; then printf '  %5s %s\n' "$n" "$r"; continue; fi
  printf '  %5s %9s %13s %9s %9s %10s %10s %10s  %s\n' "$n" "$r" "($range)" "$f" "$a" "$of" "$fa" "$rss" "$c"
done
echo "  targets: rollback <= 1.3 x the ssh floor; Ansible >= 5 x rollback's time"
echo "Inside rollback execute (medians, from its journals):"
for line in "${insides[@]}"; do echo "  $line"; done
exit "$status"
