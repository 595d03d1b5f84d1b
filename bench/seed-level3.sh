#!/usr/bin/env bash
# The seed's level 3 as the runbook's authors did it by hand
# (shared/seeds/frontend-backend-migration-rollback.md, "Step 2: Disable the feature flag",
# "Step 3: Verify"): `sed -i` the flag off, restart the frontend, curl until it serves the
# flag as false. The seed edits .env.local only and restarts with pm2; here the three
# files the runbook's flag lives in, and supervisord, as on the test harness.
#
# Needs ROLLBACK_TEST_APP_DIR, ROLLBACK_TEST_SUPERVISOR_CONF and ROLLBACK_TEST_APP_URL.
# The restart and the poll loop are bench/restart-and-verify.sh's, with the same
# BENCH_POLL_INTERVAL (default 0.05 s), so the difference is the sed.
set -euo pipefail
app=${ROLLBACK_TEST_APP_DIR:?}
conf=${ROLLBACK_TEST_SUPERVISOR_CONF:?}
url=${ROLLBACK_TEST_APP_URL:?}
interval=${BENCH_POLL_INTERVAL:-0.05}

cd "$app"
sed -i 's/NEXT_PUBLIC_USE_BACKEND_API=true/NEXT_PUBLIC_USE_BACKEND_API=false/' .env.local .env.production .env
supervisorctl -c "$conf" restart frontend >/dev/null
until curl -fsS --max-time 2 "$url/api/health" 2>/dev/null | grep -q '"backend_api":"false"'; do
  if [ "$SECONDS" -ge 60 ]; then echo "seed-level3: frontend not healthy within 60 s" >&2; exit 1; fi
  sleep "$interval"
done
