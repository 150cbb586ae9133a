#!/usr/bin/env python3
"""Soak test: a mixed load on one `renkei serve` for a long time, with memory and latency sampled.

    cargo build --release
    tools/soak/soak.py --minutes 30            # SQLite in a fresh directory
    tools/soak/soak.py --minutes 30 --database-url postgres://postgres@127.0.0.1:5432/soak

The load, from several clients at once: public searches (the directory's text search and the
near-search API), safety-check answers through their links (form, CSRF, answer), logins (the
password step, which hashes with Argon2), and a coordinator noting consultations (signed in with
the demo's second factor). Every 10 s the server's resident memory and each kind's latency are
written to a CSV. The run fails (exit 1) when any request errs (5xx, a refused write, no answer)
or when memory after the warm-up grows by more than 10 % (medians of the first and last
fifth; judge on a long run, short ones are noisy).

Only Python's standard library is used.
"""

import argparse
import csv
import http.cookiejar
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TERMS = ["クリニック", "訪問看護", "ｸﾘﾆｯｸ", "八尾", "病院", "薬局", "在宅", "歯科", "東大阪 内科", "柏原"]
NEAR = [(34.6265, 135.6010), (34.6790, 135.6008), (34.5790, 135.6290), (34.6600, 135.5700)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """One browser-like client: cookies, CSRF tokens, no automatic redirects."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect
        )

    def request(self, method, path, fields=None):
        data = urllib.parse.urlencode(fields, doseq=True).encode() if fields is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def post(self, page, path, fields):
        status, html = self.request("GET", page)
        m = CSRF.search(html)
        if status != 200 or not m:
            return status, html
        return self.request("POST", path, list(fields) + [("csrf_token", m.group(1))])


def run(cmd, cwd, env):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[1:3])} failed: {done.stderr.strip()}")
    return done.stdout


def server_env(database_url):
    """The environment of a server of our own: quiet logs, no settings leaking in from the
    caller's, and PostgreSQL at `database_url` (SQLite in the working directory when None)."""
    env = dict(os.environ, RENKEI_LOG="warn")
    for k in ("DATABASE_URL", "RENKEI_DATABASE_URL", "RENKEI_CONFIG"):
        env.pop(k, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def stop_server(server, seconds=20):
    """Stops the server with SIGTERM, or SIGKILL when it has not stopped after `seconds`."""
    server.terminate()
    try:
        server.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        server.kill()


def wait_until_healthy(server, base, seconds=120):
    """Waits for /healthz to answer 200; False when the server exits or the time runs out."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        if server.poll() is not None or time.time() > deadline:
            return False
        time.sleep(0.2)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {}
        self.errors = []
        self.total = 0

    def record(self, kind, seconds, ok, what=""):
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.total += 1
            if not ok:
                self.errors.append(f"{kind}: {what}"[:300])

    def take(self):
        with self.lock:
            taken, self.latencies = self.latencies, {}
            return taken


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30, help="how long to run (default 30)")
    ap.add_argument("--warmup", type=float, default=None, help="minutes of warm-up not judged (default: a sixth of the run, at most 5)")
    ap.add_argument("--clients", type=int, default=8, help="clients at once (default 8)")
    ap.add_argument("--binary", default="target/release/renkei", help="the renkei binary (default target/release/renkei)")
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a fresh directory)")
    ap.add_argument("--out", default="soak.csv", help="where the samples go (default soak.csv)")
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else min(5.0, args.minutes / 6)
    binary = os.path.abspath(args.binary)
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: build it with `cargo build --release`")

    work = tempfile.mkdtemp(prefix="renkei-soak-")
    env = server_env(args.database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        if not wait_until_healthy(server, base):
            sys.exit("the server did not start: " + server.stderr.read().decode())

        # A safety check to answer, and its links.
        # Times are Japan's (UTC+9), whatever the machine's zone.
        until = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 9 * 3600 + args.minutes * 60 + 7200))
        run([binary, "safety-check", "create", "--title", "ソーク試験", "--deadline", until, "--area", "yao"], work, env)
        links = [l[l.index("/r/"):].strip() for l in run([binary, "safety-check", "export", "1", "--links"], work, env).splitlines() if "/r/" in l]

        # The coordinator, signed in once with the demo's second factor.
        coordinator = Client(base)
        email = "coordinator@demo.renkei.example"
        status, _ = coordinator.post("/login", "/login", [("email", email), ("password", "renkei-demo-2026")])
        code = run([binary, "demo", "--code", email], work, env).strip()
        status, _ = coordinator.post("/login/two-factor", "/login/two-factor", [("code", code)])
        if status != 303:
            sys.exit(f"the coordinator could not sign in ({status})")

        stats = Stats()
        stop = threading.Event()
        lock = threading.Lock()

        def one(client, rng):
            kind = rng.choices(["search", "near", "answer", "login", "note"], [40, 15, 25, 10, 10])[0]
            started = time.perf_counter()
            try:
                if kind == "search":
                    q = urllib.parse.quote(rng.choice(TERMS))
                    status, _ = client.request("GET", f"/directory?q={q}")
                    ok, what = status == 200, status
                elif kind == "near":
                    lat, lng = rng.choice(NEAR)
                    status, body = client.request("GET", f"/api/v1/directory/near?lat={lat}&lng={lng}&km=3&limit=50")
                    ok, what = status == 200 and '"results"' in body, status
                elif kind == "answer":
                    link = rng.choice(links)
                    status, _ = client.post(link, link, [
                        ("people", "safe"), ("building", "intact"), ("power", "grid"),
                        ("water", "available"), ("can_accept", str(rng.randint(0, 20))),
                    ])
                    ok, what = status == 303, status
                elif kind == "login":
                    fresh = Client(base)
                    status, _ = fresh.post("/login", "/login", [("email", "nurse@demo.renkei.example"), ("password", "renkei-demo-2026")])
                    ok, what = status == 303, status
                else:
                    with lock:  # one coordinator, notes one at a time
                        status, _ = coordinator.post("/hub/consultations", "/hub/consultations", [
                            ("received_at", time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 9 * 3600 - 60))),
                            ("area", "yao"),
                            ("channel", "phone"), ("caller", rng.choice(["patient", "family"])),
                            ("topic", rng.choice(["finding_doctor", "discharge"])),
                            ("action", "information"), ("summary", "訪問診療の相談（ソーク試験）"),
                            ("minutes", str(rng.randint(5, 30))),
                        ])
                    ok, what = status == 303, status
            except Exception as e:  # no answer, a reset: an error of the run
                ok, what = False, repr(e)
            stats.record(kind, time.perf_counter() - started, ok, what)

        def worker(k):
            rng = random.Random(k)
            client = Client(base)
            while not stop.is_set():
                one(client, rng)

        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(args.clients)]
        for t in threads:
            t.start()

        began = time.time()
        samples = []
        kinds = ["search", "near", "answer", "login", "note"]
        with open(args.out, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["minute", "rss_mib", "requests", "errors"] + [f"{k}_{p}_ms" for k in kinds for p in ("p50", "p99")])
            while time.time() - began < args.minutes * 60:
                time.sleep(10)
                if server.poll() is not None:
                    stop.set()
                    sys.exit("the server died: " + server.stderr.read().decode()[-2000:])
                taken = stats.take()
                minute = (time.time() - began) / 60
                rss = rss_kib(server.pid) / 1024
                row = [f"{minute:.2f}", f"{rss:.1f}", sum(len(v) for v in taken.values()), len(stats.errors)]
                for k in kinds:
                    v = sorted(taken.get(k, []))
                    if v:
                        row += [f"{statistics.median(v) * 1000:.1f}", f"{v[min(len(v) - 1, int(len(v) * 0.99))] * 1000:.1f}"]
                    else:
                        row += ["", ""]
                out.writerow(row)
                f.flush()
                samples.append((minute, rss))
                print(f"{minute:6.1f} min  RSS {rss:7.1f} MiB  {row[2]:6d} requests  {row[3]} errors", flush=True)
        stop.set()
        for t in threads:
            t.join(timeout=35)

        after = [r for m, r in samples if m >= warmup]
        # Medians of the first and last fifth after the warm-up: the allocator returns memory in
        # swings of tens of MiB, which a single sample (or a short run) would mistake for growth.
        fifth = max(1, len(after) // 5)
        first = statistics.median(after[:fifth])
        last = statistics.median(after[-fifth:])
        growth = (last - first) / first * 100 if first else 0.0
        print(f"\n{stats.total} requests in {args.minutes:g} min, {len(stats.errors)} errors")
        print(f"memory after warm-up: {first:.1f} MiB → {last:.1f} MiB ({growth:+.1f} %); samples in {args.out}")
        failed = False
        if stats.errors:
            print("errors (first 10):\n  " + "\n  ".join(stats.errors[:10]))
            failed = True
        if growth > 10:
            print("memory grew by more than 10 % after the warm-up")
            failed = True
        sys.exit(1 if failed else 0)
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
