#!/usr/bin/env bash
# One benchmark run, three contenders on the same simulated Gong data:
#   1. the dlt peer (../shared/peers/dlt_gong_logs.py), if its venv exists;
#   2. auditmirror sync (release build);
#   3. a raw rusqlite upsert loop over the same rows (examples/raw_upsert.rs).
#
#   bench/run.sh [simulate flags…]     e.g. --gong-per-day 2000 --days 30
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${DLT_PYTHON:-$root/../.venv-dlt/bin/python}
(cd "$root" && cargo build --release --quiet && cargo build --release --quiet --example raw_upsert)
bin=$root/target/release/auditmirror
raw=$root/target/release/examples/raw_upsert
work=$(mktemp -d)
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" simulate --finite --seed 7 "$@" > "$work/sim.json" 2>/dev/null &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gong"][sys.argv[2]])' "$work/sim.json" "$1"; }
base=$(field base_url); key=$(field access_key); secret=$(field access_key_secret)
start=$(date -u -d '-400 days' +%Y-%m-%dT%H:%M:%SZ)
now() { date +%s.%N; }

dlt_s=""
if [ -x "$py" ]; then
  (cd "$work" && t0=$(now) && GONG_BASE_URL="$base" GONG_ACCESS_KEY="$key" GONG_ACCESS_KEY_SECRET="$secret" \
     GONG_START="$start" "$py" "$root/../shared/peers/dlt_gong_logs.py" > dlt.log 2>&1 && echo "$(now) - $t0" | bc > dlt.time)
  dlt_s=$(cat "$work/dlt.time")
fi

cat > "$work/c.toml" <<EOT
[database]
path = "mirror.sqlite"
[defaults]
start = "$start"
settle = "0s"
[[gong]]
name = "bench"
base_url = "$base"
access_key = "$key"
access_key_secret = "$secret"
requests_per_second = 1000.0
EOT
chmod 600 "$work/c.toml"
t0=$(now); "$bin" --config "$work/c.toml" sync > "$work/am.log"; am_s=$(echo "$(now) - $t0" | bc)
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from gong_audit_log_entry").fetchone()[0])' "$work/mirror.sqlite")
raw_json=$("$raw" "$work/mirror.sqlite" "$work/raw.sqlite")
raw_s=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$raw_json")

python3 - "$rows" "$am_s" "$raw_s" "${dlt_s:-}" <<'PY'
import sys
rows, am, raw = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
dlt = float(sys.argv[4]) if sys.argv[4] else None
print(f"rows: {rows}")
print(f"auditmirror sync     {am:7.2f} s  {rows/am:9.0f} rows/s")
print(f"raw rusqlite upsert  {raw:7.2f} s  {rows/raw:9.0f} rows/s   (auditmirror = {raw/am*100:.0f}% of the raw loop's speed, and it also fetched and mapped every row)")
if dlt:
    print(f"dlt peer             {dlt:7.2f} s  {rows/dlt:9.0f} rows/s   (auditmirror is {dlt/am:.1f}x faster)")
PY
