#!/usr/bin/env python3
"""Pages through 1,000,000 Gong entries served by `auditmirror simulate` and
samples the simulator's resident memory as it goes, to show it stays flat.

    python3 bench/sim_memory.py [path/to/auditmirror]
"""
import base64, json, os, subprocess, sys, time, urllib.parse, urllib.request

binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "target", "release", "auditmirror")
TOTAL, DAYS = 1_000_000, 30
sim = subprocess.Popen([binary, "simulate", "--finite", "--days", str(DAYS), "--gong-per-day", str(TOTAL // DAYS + 1)],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    info = json.loads(sim.stdout.readline())["gong"]
    auth = "Basic " + base64.b64encode(f"{info['access_key']}:{info['access_key_secret']}".encode()).decode()

    def rss_kb():
        with open(f"/proc/{sim.pid}/status") as f:
            return {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmRSS", "VmHWM"))}

    params = {"logType": "UserCallPlay", "fromDateTime": "2000-01-01T00:00:00Z"}
    served, pages, t0, samples = 0, 0, time.time(), []
    while True:
        req = urllib.request.Request(f"{info['base_url']}/v2/logs?{urllib.parse.urlencode(params)}", headers={"Authorization": auth})
        body = json.load(urllib.request.urlopen(req))
        served += len(body["logEntries"])
        pages += 1
        if pages % 2000 == 1:
            samples.append((served, rss_kb()["VmRSS"]))
        cursor = body["records"].get("cursor")
        if not cursor:
            break
        params["cursor"] = cursor
    m = rss_kb()
    print(json.dumps({"entries": served, "pages": pages, "seconds": round(time.time() - t0, 1),
                      "rss_kb_samples(entries, kB)": samples, "final_rss_kb": m["VmRSS"], "peak_rss_kb": m["VmHWM"]}))
finally:
    sim.terminate()
