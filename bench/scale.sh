#!/usr/bin/env bash
# Every figure of the performance targets in one run, at 10k, 100k and 1M Gong
# entries (five log types, the simulator at the fastest rate the config allows),
# next to the raw rusqlite ceiling on the same rows:
#   first sync: seconds, entries/s, CPU seconds, peak RSS, requests per 1,000 entries;
#   disk: bytes per entry, against the raw JSON bytes of the entries;
#   at 1M: the everyday queries, a no-op re-sync and `status`;
#   pacing at the vendors' default limits (Gong 3/s, Genesys 300/min), 429s counted.
#
#   bench/scale.sh [SIZES…]        default: 10000 100000 1000000
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
(cd "$root" && cargo build --release --quiet \
  && cargo build --release --quiet --example raw_upsert --example bench_queries)
bin=$root/target/release/auditmirror
ex=$root/target/release/examples
work=$(mktemp -d)
sim_pid=""
trap '[ -n "$sim_pid" ] && kill $sim_pid 2>/dev/null; rm -rf "$work"' EXIT

start_sim() { # start_sim ARGS…: the simulator on loopback, its connection info in sim.json
  "$bin" simulate --finite --seed 7 "$@" > "$work/sim.json" 2>/dev/null &
  sim_pid=$!
  for _ in $(seq 200); do [ -s "$work/sim.json" ] && break; sleep 0.05; done
}
stop_sim() { kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null || true; sim_pid=""; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$work/sim.json" "$1" "$2"; }
config() { # config DIR GONG_RPS GONG_BUDGET GENESYS_RPM [GONG_LOG_TYPE] [START]
  cat > "$1/c.toml" <<EOT
[database]
path = "mirror.sqlite"
[defaults]
start = "${6:-31d}"
settle = "0s"
[[gong]]
name = "bench"
base_url = "$(field gong base_url)"
access_key = "$(field gong access_key)"
access_key_secret = "$(field gong access_key_secret)"
requests_per_second = $2
daily_request_budget = $3
EOT
  [ -n "${5:-}" ] && echo "log_types = [\"$5\"]" >> "$1/c.toml"
  cat >> "$1/c.toml" <<EOT
[[genesys]]
name = "bench"
api_base_url = "$(field genesys api_base_url)"
login_base_url = "$(field genesys login_base_url)"
client_id = "$(field genesys client_id)"
client_secret = "$(field genesys client_secret)"
requests_per_minute = $4
EOT
  chmod 600 "$1/c.toml"
}
timed() { # timed OUT CMD…: wall s, user s, sys s, max RSS KB into OUT
  /usr/bin/time -f "%e %U %S %M" -o "$1" "${@:2}" > /dev/null 2>&1 || true
}
sqlq() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0])' "$@"; }

printf '%-9s %9s %8s %9s %8s %7s %9s %9s %7s %11s\n' entries "sync s" "entries/s" "CPU s" "RSS MB" "req/1k" "disk B/e" "JSON B/e" "ratio" "raw loop/s"
for n in "${sizes[@]}"; do
  # Four log types over 30 days and AccessLog over its 14: 134 stream-days.
  per_day=$(( (n + 133) / 134 ))
  dir="$work/n$n"; mkdir -p "$dir"
  # At the largest size Genesys holds as many messages as Gong entries, so its
  # everyday question runs at that size too; below it, a thousand a day.
  g_per_day=1000; [ "$n" = "${sizes[-1]}" ] && g_per_day=$(( n / 30 ))
  start_sim --days 30 --gong-per-day "$per_day" --genesys-per-day "$g_per_day"
  config "$dir" 100000 100000000 100000
  (cd "$dir" && timed "$dir/t" "$bin" --config c.toml sync --source gong)
  read -r wall user sys rss < "$dir/t"
  db="$dir/mirror.sqlite"
  sqlq "$db" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
  rows=$(sqlq "$db" "SELECT count(*) FROM gong_audit_log_entry")
  json=$(sqlq "$db" "SELECT sum(length(raw_json)) FROM gong_audit_log_entry")
  requests=$(sqlq "$db" "SELECT sum(requests) FROM sync_runs")
  disk=$(( $(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0) ))
  raw=$("$ex/raw_upsert" "$db" "$dir/raw.sqlite" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows_per_second"])')
  python3 - "$rows" "$wall" "$user" "$sys" "$rss" "$requests" "$disk" "$json" "$raw" <<'PY'
import sys
rows, wall, user, sys_, rss, req, disk, js, raw = sys.argv[1:]
rows, wall, cpu = int(rows), float(wall), float(user) + float(sys_)
print(f"{rows:<9} {wall:9.2f} {rows/wall:9.0f} {cpu:9.2f} {int(rss)/1024:8.1f} {int(req)/rows*1000:7.1f} {int(disk)/rows:9.0f} {int(js)/rows:9.0f} {int(disk)/int(js):7.2f} {float(raw):11.0f}")
PY
  if [ "$n" = "${sizes[-1]}" ]; then
    # The Genesys stream too (the everyday questions ask both), then the rest.
    (cd "$dir" && timed "$dir/g" "$bin" --config c.toml sync --source genesys)
    g_rows=$(sqlq "$db" "SELECT count(*) FROM genesys_audit_log_message")
    echo; echo "Genesys: $g_rows messages synced in $(cut -d' ' -f1 "$dir/g") s, peak $(( $(cut -d' ' -f4 "$dir/g") / 1024 )) MB"
    echo; echo "everyday questions at $rows Gong entries and $g_rows Genesys messages (best of 3):"
    "$ex/bench_queries" "$db"
    (cd "$dir" && timed "$dir/noop" "$bin" --config c.toml sync --source gong)
    (cd "$dir" && timed "$dir/noop_g" "$bin" --config c.toml sync --source genesys)
    (cd "$dir" && timed "$dir/status" "$bin" --config c.toml status)
    echo "no-op re-sync: Gong $(cut -d' ' -f1 "$dir/noop") s, Genesys $(cut -d' ' -f1 "$dir/noop_g") s" \
      "(its query transaction answers after one poll: 0.5 s of waiting); status: $(cut -d' ' -f1 "$dir/status") s"
    last_dir=$dir
  fi
  stop_sim
done

echo; echo "at the vendors' default limits (the simulator answers 429 above them;"
echo "Genesys query transactions answer at once, so the figure is the pacing's own):"
dir="$work/pace"; mkdir -p "$dir"
start_sim --days 2 --gong-per-day 2200 --genesys-per-day 30000 --gong-rps 3 --genesys-rpm 300 --transaction-polls 0
config "$dir" 3.0 100000 300 UserCallPlay 2d
for source in gong genesys; do
  (cd "$dir" && timed "$dir/p_$source" "$bin" --config c.toml sync --source "$source")
  wall=$(cut -d' ' -f1 "$dir/p_$source")
  req=$(sqlq "$dir/mirror.sqlite" "SELECT sum(requests) FROM sync_runs WHERE source = '$source'")
  rows=$(sqlq "$dir/mirror.sqlite" "SELECT sum(rows_inserted) FROM sync_runs WHERE source = '$source'")
  retries=$(sqlq "$dir/mirror.sqlite" "SELECT sum(retries) FROM sync_runs WHERE source = '$source'")
  python3 -c 'import sys; s,w,q,r,t=sys.argv[1:]; w,q=float(w),int(q); print(f"{s:8} {q} requests in {w:.1f} s = {q/w:.2f}/s ({q/w*60:.0f}/min); {t} retries (429s); {q/int(r)*1000:.1f} requests per 1,000 entries")' "$source" "$wall" "$req" "$rows" "$retries"
done
stop_sim
