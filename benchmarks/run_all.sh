#!/usr/bin/env bash
# Every benchmark on both stores, then the plots and the tables of docs/performance.md (about 35 minutes:
# the end-to-end memory run alone is 5). Run it on a quiet machine: `uptime` is recorded with every figure.
#   benchmarks/run_all.sh [create|badges|e2e|latency|list ...]   (default: all five)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(create badges e2e latency list)
uptime
for part in "${parts[@]}"; do
  case "$part" in
    create) for store in sqlite postgresql; do $PY -m benchmarks.bench_create --store "$store"; done ;;
    badges) for store in sqlite postgresql; do $PY -m benchmarks.bench_badges --store "$store"; done ;;
    e2e)
      $PY -m benchmarks.bench_e2e --store sqlite --duration "${E2E_SECONDS:-300}" --plot
      $PY -m benchmarks.bench_e2e --store postgresql --duration "${E2E_PG_SECONDS:-60}" --plot
      for store in sqlite postgresql; do  # approval latency with one client (no queueing behind others)
        $PY -m benchmarks.bench_e2e --store "$store" --concurrency 1 --duration 30 --out "benchmarks/results/e2e-$store-c1.json"
      done ;;
    latency)  # open loop: approval latency at offered rates, up to the first saturated step
      $PY -m benchmarks.bench_latency --store sqlite --rates "${LATENCY_RATES:-5,10,15,20,30,40,50,60}" --duration 30
      $PY -m benchmarks.bench_latency --store postgresql --rates "${LATENCY_PG_RATES:-5,10,15,20,25,30}" --duration 30 ;;
    list) for store in sqlite postgresql; do $PY -m benchmarks.bench_list --store "$store"; done ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
  esac
done
$PY -m benchmarks.plots
$PY -m benchmarks.report --write
uptime
