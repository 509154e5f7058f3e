"""Feed p99 at 200 req/s, the layered code (/tmp/i20) against the session's starting code
(/tmp/base): both servers up at once on the same Beauty quick model, load alternated between
them in 20 s rounds (same minutes, same noise)."""
import json, os, random, subprocess, sys, tempfile, time
sys.path.insert(0, "/work/main/bench")
import serving as S  # bench/serving.py (fixed_rate, free_port)
from shoprec.data.datasets import load_dataset

env0 = dict(os.environ, SHOPREC_DATA_DIR="/work/shared/data", SHOPREC_ARTIFACTS_DIR="/work/benchart",
            SHOPREC_TEXT_CACHE="/work/benchart/text_cache.npz")
data = load_dataset("amazon-beauty")
users = data.users.to_list()
procs, ports = {}, {}
for name in ["i20", "base"]:
    port = S.free_port(); store = tempfile.mkdtemp()
    env = dict(env0, PYTHONPATH=f"/tmp/{name}/src")
    procs[name] = subprocess.Popen([sys.executable, "-m", "shoprec.cli", "serve", "--port", str(port), "--no-verbose",
                                    "--dataset", "amazon-beauty", "--store", store, "--quick"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=f"/tmp/{name}")
    ports[name] = port
import httpx
for name, port in ports.items():
    t0 = time.time()
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200: break
        except Exception: pass
        if time.time() - t0 > 900: raise SystemExit(f"{name} did not start")
        time.sleep(2)
    print(name, "up after", round(time.time() - t0), "s", flush=True)
rows = []
try:
    for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        for name in (["i20", "base"] if r % 2 == 0 else ["base", "i20"]):
            S.fixed_rate(ports[name], users, 200, 5)  # warm
            out = S.fixed_rate(ports[name], users, 200, 20)
            out["code"], out["round"], out["at"] = name, r, time.strftime("%H:%M:%S")
            rows.append(out)
            print(json.dumps(out), flush=True)
finally:
    for p in procs.values(): p.terminate()
json.dump(rows, open("/work/notes/feed_ab.json", "w"), indent=1)
