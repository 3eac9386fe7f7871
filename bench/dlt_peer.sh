#!/usr/bin/env bash
# Runs the dlt peer (../shared/peers/dlt_gong_logs.py) against `auditmirror simulate`
# and compares what it loaded with the simulator's ground truth, per log type.
#
#   bench/dlt_peer.sh [extra simulate flags…]      e.g. --gong-per-day 20000
#
# Needs a Python venv with dlt: python3 -m venv .venv-dlt && .venv-dlt/bin/pip install "dlt[sqlalchemy]"
# (DLT_PYTHON points at its python; default ../.venv-dlt/bin/python).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers="$root/../shared/peers"
py=${DLT_PYTHON:-$root/../.venv-dlt/bin/python}
bin=${AUDITMIRROR_BIN:-$root/target/release/auditmirror}
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
work=$(mktemp -d)
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" simulate --finite --seed 7 --truth "$work/truth.jsonl" "$@" > "$work/sim.json" 2> "$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gong"]["base_url"])' "$work/sim.json")
key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gong"]["access_key"])' "$work/sim.json")
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gong"]["access_key_secret"])' "$work/sim.json")

cd "$work"
/usr/bin/time -f "dlt peak RSS %M KB, wall %e s" \
  env GONG_BASE_URL="$base" GONG_ACCESS_KEY="$key" GONG_ACCESS_KEY_SECRET="$secret" \
      GONG_START="$(date -u -d '-40 days' +%Y-%m-%dT%H:%M:%SZ)" "$py" "$peers/dlt_gong_logs.py" | tail -1

python3 - "$work" <<'PY'
import collections, json, sqlite3, sys
work = sys.argv[1]
truth = collections.Counter()
for line in open(f"{work}/truth.jsonl"):
    r = json.loads(line)
    if r["source"] == "gong" and not r.get("malformed"):
        truth[r["log_type"]] += 1
db = sqlite3.connect(f"{work}/gong_logs_dlt.sqlite")
loaded = collections.Counter(dict(db.execute("select log_type, count(*) from gong_audit_logs group by 1")))
for lt in sorted(truth):
    print(f"{lt:28} truth {truth[lt]:8}  dlt {loaded[lt]:8}  {'OK' if truth[lt] == loaded[lt] else 'MISMATCH'}")
print(f"{'total':28} truth {sum(truth.values()):8}  dlt {sum(loaded.values()):8}")
sys.exit(0 if truth == loaded else 1)
PY
