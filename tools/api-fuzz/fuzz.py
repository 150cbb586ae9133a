#!/usr/bin/env python3
"""Runs schemathesis against a fresh `renkei serve --demo`; called by run.sh (which makes the venv).

The server starts on a free loopback port in a fresh directory (SQLite) or on the given
PostgreSQL database. A hub coordinator of the demo signs in (password, then the demo's second
factor) and makes an API token, so the operations that need one (/api/v1/me, the MeasureReports)
are fuzzed signed in, and schemathesis's ignored_auth check proves they refuse requests without
it. The exit status is schemathesis's: 0 when every check passed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from soak import Client, free_port, run, server_env, stop_server, wait_until_healthy  # noqa: E402

TOKEN = re.compile(r'data-testid="new-token">(rk_[0-9a-f]+)<')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemathesis", required=True, help="the schemathesis command")
    ap.add_argument("--binary", default="target/release/renkei", help="the renkei binary (default target/release/renkei)")
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a fresh directory)")
    ap.add_argument("--max-examples", type=int, default=100, help="cases per operation and phase (default 100)")
    ap.add_argument("--seed", type=int, default=None, help="random seed, to repeat a run")
    ap.add_argument("--report-dir", default="target/api-fuzz", help="where the reports go (default target/api-fuzz)")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: build it with `cargo build --release`")
    report_dir = os.path.abspath(args.report_dir)
    os.makedirs(report_dir, exist_ok=True)

    work = tempfile.mkdtemp(prefix="renkei-api-fuzz-")
    env = server_env(args.database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(report_dir, "server.log"), "w")
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        if not wait_until_healthy(server, base):
            sys.exit(f"the server did not start; see {log.name}")

        email = "coordinator@demo.renkei.example"
        coordinator = Client(base)
        coordinator.post("/login", "/login", [("email", email), ("password", "renkei-demo-2026")])
        code = run([binary, "demo", "--code", email], work, env).strip()
        status, _ = coordinator.post("/login/two-factor", "/login/two-factor", [("code", code)])
        if status != 303:
            sys.exit(f"the coordinator could not sign in ({status})")
        status, page = coordinator.post("/account", "/account/api-tokens", [("name", "api-fuzz"), ("read", "on")])
        token = TOKEN.search(page)
        if status != 200 or not token:
            sys.exit(f"could not make an API token ({status})")

        command = [
            args.schemathesis, "--config-file", os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml"),
            "run", f"{base}/api/openapi.json",
            "--header", f"Authorization: Bearer {token.group(1)}",
            "--max-examples", str(args.max_examples),
            "--workers", "2",
            "--report", "junit,pytest",
            "--report-dir", report_dir,
        ]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        print("api-fuzz:", " ".join(c if not c.startswith("Authorization") else "Authorization: Bearer rk_…" for c in command), flush=True)
        started = time.time()
        # Its cache of crashes goes to the report directory, not the checkout.
        code = subprocess.call(command, cwd=report_dir, env=dict(os.environ, NO_COLOR="1"))
        print(f"api-fuzz: schemathesis exited {code} after {time.time() - started:.0f} s; "
              f"reports and the server log in {report_dir}", flush=True)
        if server.poll() is not None:
            print("api-fuzz: the server died during the run", flush=True)
            code = code or 1
        return code
    finally:
        stop_server(server)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
