#!/usr/bin/env bash
# The baseline of bench/execute.sh: "the restart and health check by themselves". The
# same `supervisorctl restart` and the same curl poll of /api/health as the seed's bash
# (bench/seed-level3.sh), nothing else. bench/execute.sh runs it with the flag already
# off in the three files, so the restarted frontend answers "backend_api":"false".
#
# Needs ROLLBACK_TEST_SUPERVISOR_CONF and ROLLBACK_TEST_APP_URL (the test harness's).
# BENCH_POLL_INTERVAL (default 0.05 s) is the pause between polls; keep it equal to the
# seed's. Gives up after 60 s, as the runbook's health check does.
set -euo pipefail
conf=${ROLLBACK_TEST_SUPERVISOR_CONF:?}
url=${ROLLBACK_TEST_APP_URL:?}
interval=${BENCH_POLL_INTERVAL:-0.05}

supervisorctl -c "$conf" restart frontend >/dev/null
until curl -fsS --max-time 2 "$url/api/health" 2>/dev/null | grep -q '"backend_api":"false"'; do
  if [ "$SECONDS" -ge 60 ]; then echo "restart-and-verify: frontend not healthy within 60 s" >&2; exit 1; fi
  sleep "$interval"
done
