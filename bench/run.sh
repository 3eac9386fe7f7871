#!/usr/bin/env bash
# One benchmark run, three contenders on the same simulated Gong data:
#   1. the dlt peer, if its venv exists (DLT_PEER: its script, default
#      ../shared/peers/dlt_gong_logs.py, which is not shipped with this repo;
#      DLT_PYTHON: a python with dlt[sqlalchemy], default ../.venv-dlt/bin/python);
#   2. auditmirror sync (release build);
#   3. a raw rusqlite upsert loop over the same rows (examples/raw_upsert.rs).
#
# Each is timed by /usr/bin/time: wall seconds, CPU seconds (user + system) and
# peak RSS; the simulator runs in its own process, so its work is in no figure.
#
#   bench/run.sh [simulate flags…]     e.g. --days 30 --gong-per-day 747 (100k entries)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${DLT_PYTHON:-$root/../.venv-dlt/bin/python}
peer=${DLT_PEER:-$root/../shared/peers/dlt_gong_logs.py}
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
timed() { /usr/bin/time -f "%e %U %S %M" -o "$1" "${@:2}"; } # OUT CMD…: wall, user, sys, KB

dlt=""
if [ -x "$py" ] && [ -f "$peer" ]; then
  (cd "$work" && GONG_BASE_URL="$base" GONG_ACCESS_KEY="$key" GONG_ACCESS_KEY_SECRET="$secret" \
     GONG_START="$start" timed dlt.time "$py" "$peer" > dlt.log 2>&1)
  dlt=$(cat "$work/dlt.time")
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
requests_per_second = 100000.0
EOT
chmod 600 "$work/c.toml"
timed "$work/am.time" "$bin" --config "$work/c.toml" sync > "$work/am.log"
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from gong_audit_log_entry").fetchone()[0])' "$work/mirror.sqlite")
raw_json=$("$raw" "$work/mirror.sqlite" "$work/raw.sqlite")
raw_s=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$raw_json")

python3 - "$rows" "$(cat "$work/am.time")" "$raw_s" "$dlt" <<'PY'
import sys
rows, raw = int(sys.argv[1]), float(sys.argv[3])
def parse(t):
    wall, user, sys_, kb = t.split()
    return float(wall), float(user) + float(sys_), int(kb) / 1024
am_wall, am_cpu, am_mb = parse(sys.argv[2])
print(f"rows: {rows}")
print(f"{'':20} {'wall s':>8} {'rows/s':>9} {'CPU s':>7} {'peak MB':>8}")
print(f"{'auditmirror sync':20} {am_wall:8.2f} {rows/am_wall:9.0f} {am_cpu:7.2f} {am_mb:8.1f}")
print(f"{'raw rusqlite loop':20} {raw:8.2f} {rows/raw:9.0f}   (writes only: auditmirror also fetched and mapped every row, at {raw/am_wall*100:.0f}% of its speed)")
if sys.argv[4]:
    d_wall, d_cpu, d_mb = parse(sys.argv[4])
    print(f"{'dlt peer':20} {d_wall:8.2f} {rows/d_wall:9.0f} {d_cpu:7.2f} {d_mb:8.1f}")
    print(f"auditmirror against dlt: {d_wall/am_wall:.1f}x in wall time, {d_cpu/am_cpu:.1f}x in CPU seconds, {d_mb/am_mb:.1f}x less memory")
PY
