#!/usr/bin/env bash
# The seed's "Identify the issue" step as the runbook's authors did it by hand
# (shared/seeds/frontend-backend-migration-rollback.md): three Prometheus queries
# through curl | jq and two psql probes, one after another. The queries are the Atom
# runbook's `local` environment's (10 s windows) so both sides ask the same questions.
#
# Needs ROLLBACK_PROM_URL and DATABASE_URL (bench/assess.sh sets them from the harness).
set -euo pipefail
prom=${ROLLBACK_PROM_URL:?}
db=${DATABASE_URL:?}

query() {
  curl -s --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1]'
}

echo "error rate:  $(query 'sum(rate(api_errors_total[10s]))')"
echo "p95 latency: $(query 'histogram_quantile(0.95, sum(rate(api_request_latency_seconds_bucket[10s])) by (le))')"
echo "db pool:     $(query 'max(db_connection_pool_usage)')"
echo "db up:       $(psql "$db" -XAtc 'SELECT 1;')"
echo "db active:   $(psql "$db" -XAtc "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle';")"
