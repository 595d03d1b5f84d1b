#!/usr/bin/env bash
# The floor of bench/fleet.sh: the fleet rollback as an engineer would write it by hand
# over plain ssh, in the same batches as the runbook's rolling step ([1, "50%", "100%"],
# cumulative: 1 host, then up to half of them, then the rest). On each host of a batch, at
# once: one ssh command (a ControlMaster connection, closed at the end) that `sed -i`s the
# flag off in the three dotenv files and restarts the frontend under the host's
# supervisord; then curl from this machine until the host's /api/health answers
# "backend_api":"false" (every BENCH_POLL_INTERVAL, default 0.05 s, at most 60 s). The
# next batch starts when every host of this one is done; a failed host stops the run.
#
# Usage: bench/fleet-ssh.sh SSH_CONFIG APP_PORT HOST-COUNT
#   (hosts host-1 … host-N of the test fleet, addresses 127.0.0.(10+K))
set -uo pipefail
config=${1:?usage: fleet-ssh.sh SSH_CONFIG APP_PORT HOST-COUNT}
port=${2:?usage: fleet-ssh.sh SSH_CONFIG APP_PORT HOST-COUNT}
count=${3:?usage: fleet-ssh.sh SSH_CONFIG APP_PORT HOST-COUNT}
interval=${BENCH_POLL_INTERVAL:-0.05}

control=$(mktemp -d /tmp/fleet-ssh.XXXXXX)
ssh_opts=(-F "$config" -o ControlMaster=auto -o "ControlPath=$control/%C" -o ControlPersist=60s)
closed=0
close_masters() {
  [ "$closed" = 1 ] && return
  closed=1
  local k
  for ((k = 1; k <= count; k++)); do
    ssh "${ssh_opts[@]}" -O exit "host-$k" 2>/dev/null &
  done
  wait
  rm -rf "$control"
}
trap close_masters EXIT

remote='cd /srv/rollback-fleet/app &&
  sed -i "s/^NEXT_PUBLIC_USE_BACKEND_API=true/NEXT_PUBLIC_USE_BACKEND_API=false/" .env.local .env.production .env &&
  supervisorctl -c /srv/rollback-fleet/supervisord.conf restart frontend >/dev/null'

one_host() { # K
  local k=$1 start=$SECONDS
  ssh "${ssh_opts[@]}" "host-$k" "$remote" || { echo "fleet-ssh: host-$k: flag or restart failed" >&2; return 1; }
  until curl -fsS --max-time 2 "http://127.0.0.$((10 + k)):$port/api/health" 2>/dev/null |
    grep -q '"backend_api":"false"'; do
    if [ $((SECONDS - start)) -ge 60 ]; then echo "fleet-ssh: host-$k not healthy within 60 s" >&2; return 1; fi
    sleep "$interval"
  done
}

# Cumulative batch sizes [1, "50%", "100%"], a percentage rounded up.
half=$(((count + 1) / 2))
done_hosts=0
for target in 1 "$half" "$count"; do
  [ "$target" -gt "$done_hosts" ] || continue
  pids=()
  for ((k = done_hosts + 1; k <= target; k++)); do
    one_host "$k" &
    pids+=($!)
  done
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || exit 1
  done_hosts=$target
done
