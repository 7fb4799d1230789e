#!/usr/bin/env bash
# Service monitor of the runbook (scripts/monitor.sh): health endpoint, Prometheus
# metrics, container status and resource usage. Exits 1 if any check fails.
#
# Environment:
#   BACKEND_URL     backend base URL (default http://localhost:8000); health is
#                   $BACKEND_URL/api/v1/system/health unless HEALTH_URL is set
#   METRICS_URL     metrics URL (default http://localhost:9090/metrics)
#   CHECK_TIMEOUT   seconds per HTTP check (default 5)
#   STACK_ENV_FILE  env file for compose (default: .env at the repo root), COMPOSE_FILE
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

BACKEND_URL=${BACKEND_URL:-http://localhost:8000}
HEALTH_URL=${HEALTH_URL:-${BACKEND_URL%/}/api/v1/system/health}
METRICS_URL=${METRICS_URL:-http://localhost:9090/metrics}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-5}

require_env_file

failed=0

check_service() {  # check_service NAME URL
    local service=$1 url=$2
    if curl -f -s -o /dev/null --max-time "$CHECK_TIMEOUT" "$url"; then
        echo "✓ $service is healthy"
    else
        echo "✗ $service is unhealthy ($url)"
        failed=1
    fi
}

echo "=========================================="
echo "Service Health Check"
echo "=========================================="

check_service "Backend API" "$HEALTH_URL"
check_service "Metrics" "$METRICS_URL"

echo ""
echo "Container Status:"
compose ps -a || failed=1

# Every service must have a running container, healthy where it has a healthcheck.
services=$(compose config --services) || { echo "✗ cannot read the compose file"; exit 1; }
ids=()
for service in $services; do
    id=$(compose ps -a -q "$service" 2>/dev/null | head -n 1)
    if [[ -z "$id" ]]; then
        echo "✗ $service has no container"
        failed=1
        continue
    fi
    state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id") || state="unknown unknown"
    read -r status health <<<"$state"
    if [[ "$status" != running || ( "$health" != healthy && "$health" != none ) ]]; then
        echo "✗ $service is $status (health: $health)"
        failed=1
    else
        ids+=("$id")
    fi
done

echo ""
echo "Resource Usage:"
if [[ ${#ids[@]} -gt 0 ]]; then
    docker stats --no-stream --format 'table {{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.NetIO}}\t{{.BlockIO}}' "${ids[@]}" || failed=1
else
    echo "(no running containers)"
fi

echo ""
if [[ "$failed" -ne 0 ]]; then
    echo "Some checks failed"
    exit 1
fi
echo "All checks passed"
