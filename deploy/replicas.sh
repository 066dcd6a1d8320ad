#!/bin/sh
# Start N Streamlit replicas of the app on ports BASE, BASE+1, ... (default 3 from 8601), all reading
# the same store (KAOHE_DB). Each replica reads the store's immutable snapshots (data/snapshots/…),
# so one writer — a CLI import or undo — never blocks them; they write audit rows and logins through
# the store's lock, waiting briefly while a writer holds it. List the same ports in deploy/nginx.conf.
#
#   KAOHE_DB=/srv/kaohe/kaohe.duckdb deploy/replicas.sh 3 8601
#   python -m analytics import 平时考核_2025Q1.xlsx --db /srv/kaohe/kaohe.duckdb   # the one writer, any time
set -eu
N=${1:-3}
BASE=${2:-8601}
cd "$(dirname "$0")/.."
: "${KAOHE_DB:?set KAOHE_DB to the store file}"
mkdir -p logs
i=0
while [ "$i" -lt "$N" ]; do
  port=$((BASE + i))
  nohup .venv/bin/streamlit run app.py --server.port "$port" --server.address 127.0.0.1 \
    --server.headless true --browser.gatherUsageStats false > "logs/replica-$port.log" 2>&1 &
  echo "replica on 127.0.0.1:$port (pid $!)"
  i=$((i + 1))
done
