"""Door API throughput under gunicorn, each figure beside /healthz on the same server.

    python -m bench.bench_http [--seconds 10] [--connections 16]

Starts gunicorn (2 workers) on a loopback port against a fresh PostgreSQL database (or
SQLite with --sqlite) holding the demo data and 200 new cards, then loads it with wrk in
three rounds of GET /healthz, POST /api/v1/verify and POST /api/v1/visits (one card after
another, a new idempotency key per visit). Prints the medians of the rounds: requests/s,
the ratios to /healthz, the p99 latency of verify, and the memory of each worker after the
run. Rate limits are off: one token here stands for many doors.

What each request costs is printed beside it: the CPU time of the two workers and of the
database's server processes for this database (from /proc), per request. While the visits
run, the database's sessions are sampled: the share of the busy ones waiting for a lock
shows whether the one rollup row of the venue's day holds the gate up.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.load.gunicorn import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# Each request shows the next of the cards, as scanners at many doors would.
LUA = """
local tokens = {{{tokens}}}
local counter = 0
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
request = function()
  counter = counter + 1
  local token = tokens[counter % #tokens + 1]
  local body = {body}
  return wrk.format("POST", nil,
    {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {api_token}"}}, body)
end
"""
VERIFY_BODY = """string.format('{"token": "%s"}', token)"""
VISIT_BODY = """string.format('{"token": "%s", "children": 1, "idempotency_key": "%s-%d-%d"}',
    token, "bench-RUN", tid, counter)"""


@contextmanager
def database(use_sqlite: bool):
    if use_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    name = f"kk_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flask(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "webapp", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def prepare(env: dict) -> tuple[str, str]:
    """Migrate and load the demo; return the venue's and the distributor's API tokens."""
    flask(env, "db", "upgrade")
    flask(env, "demo")
    venue_token = flask(env, "api-token", "ovi@example.fi").strip().splitlines()[-1]
    distributor_token = flask(env, "api-token", "jakaja@example.fi").strip().splitlines()[-1]
    return venue_token, distributor_token


def issue_cards(base: str, distributor_token: str, count: int) -> list[str]:
    """Register cards through the API; return their QR tokens."""
    tokens = []
    for number in range(count):
        body = {"birth_year": 1960 + number % 40, "postcode": "70100", "children": 2}
        request = urllib.request.Request(
            f"{base}/api/v1/cards",
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {distributor_token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request) as response:
            tokens.append(json.load(response)["token"])
    return tokens


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
            command[1:1] = ["-s", lua.name]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rate": rate,
        "p99_ms": float(p99.group(1)) * scale,
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def stored_visits(url: str) -> dict:
    """Count the visits the load stored (by their keys) and the rollup's count of all visits."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ours = "FROM visit WHERE idempotency_key LIKE 'bench-%'"
        counts = {
            "visits": conn.scalar(sa.text(f"SELECT count(*) {ours}")),
            "keys": conn.scalar(sa.text(f"SELECT count(DISTINCT idempotency_key) {ours}")),
            "all": conn.scalar(sa.text("SELECT count(*) FROM visit")),
            "rollup": conn.scalar(sa.text("SELECT coalesce(sum(visits), 0) FROM visit_day")),
        }
    engine.dispose()
    return counts


def worker_memory_mb(master_pid: int) -> list[float]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return sizes


def cpu_seconds(pids: list[str]) -> float:
    """Return the CPU time (user and system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_processes(master_pid: int, database: str) -> dict[str, list[str]]:
    """Return the pids of the gunicorn workers and of the database's server processes."""
    workers = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    backends = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, PermissionError):
            continue
        if command.startswith("postgres:") and f" {database} " in command:
            backends.append(pid)
    return {"workers": workers, "database": backends}


@contextmanager
def lock_waits(url: str, database: str):
    """Sample the database's sessions every 20 ms inside the block; yield a dict that holds,
    after it, the share of busy sessions that were waiting for a lock."""
    found = {"busy": 0, "waiting": 0}
    done = threading.Event()
    engine = sa.create_engine(url)
    query = sa.text(
        "SELECT count(*) FILTER (WHERE state = 'active'),"
        " count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')"
        " FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
    )

    def sample():
        with engine.connect() as conn:
            while not done.wait(0.02):
                busy, waiting = conn.execute(query, {"db": database}).one()
                found["busy"] += busy
                found["waiting"] += waiting

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        done.set()
        thread.join()
        engine.dispose()
        found["share"] = found["waiting"] / found["busy"] if found["busy"] else 0.0


def loaded(url: str, processes: dict, load: Callable[[], dict]) -> dict:
    """Run ``load`` (a wrk run) and add the CPU its requests took, per request (ms)."""
    before = {name: cpu_seconds(pids) for name, pids in processes.items()}
    result = load()
    for name, pids in processes.items():
        result[f"{name}_ms"] = (cpu_seconds(pids) - before[name]) * 1000 / result["requests"]
    return result


def measure(
    seconds: int = 10,
    connections: int = 16,
    use_sqlite: bool = False,
    cards: int = 200,
    rounds: int = 3,
) -> list[tuple]:
    """Run the load and return rows of (figure, value, target, met), medians of the rounds."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    port = free_port()
    with database(use_sqlite) as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "RATE_LIMITS": "0",
            "SECRET_KEY": "bench",
            "CARD_SIGNING_KEYS": "bench-key",
            "BENCH_URL": f"http://127.0.0.1:{port}",
        }
        api_token, distributor_token = prepare(env)
        with serving(env, port) as server:
            base = f"http://127.0.0.1:{port}"
            issued = issue_cards(base, distributor_token, cards)
            tokens = ", ".join(f'"{token}"' for token in issued)
            wrk(f"{base}/healthz", 2, connections)  # warm up both workers
            # Side by side, several times over: a shared machine's noise hits all three.
            db_name = "" if use_sqlite else sa.make_url(url).database
            processes = server_processes(server.pid, db_name)
            scripts = {
                "verify": LUA.format(tokens=tokens, body=VERIFY_BODY, api_token=api_token),
                "visits": lambda round_: LUA.format(
                    tokens=tokens,
                    body=VISIT_BODY.replace("RUN", f"{port}-{round_}"),
                    api_token=api_token,
                ),
            }

            def run_round(round_: int) -> dict:
                def load(path, script=None):
                    return lambda: wrk(f"{base}{path}", seconds, connections, script)

                run = {
                    "health": loaded(url, processes, load("/healthz")),
                    "verify": loaded(url, processes, load("/api/v1/verify", scripts["verify"])),
                }
                visits = load("/api/v1/visits", scripts["visits"](round_))
                if use_sqlite:
                    run["visits"] = loaded(url, processes, visits)
                    return run
                with lock_waits(url, db_name) as waits:
                    run["visits"] = loaded(url, processes, visits)
                run["visits"]["lock_share"] = waits["share"]
                return run

            runs = [run_round(round_) for round_ in range(rounds)]
            memory = worker_memory_mb(server.pid)
        stored = stored_visits(url)
    engine = "SQLite" if use_sqlite else "PostgreSQL"

    def median(endpoint: str, figure: str) -> float:
        return statistics.median(run[endpoint][figure] for run in runs)

    health = {"rate": median("health", "rate")}
    verify = {"rate": median("verify", "rate"), "p99_ms": median("verify", "p99_ms")}
    visits = {"rate": median("visits", "rate")}
    verify["errors"] = sum(run["verify"]["errors"] for run in runs)
    visits["errors"] = sum(run["visits"]["errors"] for run in runs)
    verify_ratio = statistics.median(run["verify"]["rate"] / run["health"]["rate"] for run in runs)
    visits_ratio = statistics.median(run["visits"]["rate"] / run["health"]["rate"] for run in runs)
    answered = sum(run["visits"]["requests"] - run["visits"]["errors"] for run in runs)
    once = stored["visits"] == stored["keys"] >= answered and stored["all"] == stored["rollup"]
    return [
        (
            f"GET /healthz req/s ({engine}, {connections} conn)",
            f"{health['rate']:.0f}",
            "baseline",
            True,
        ),
        ("POST /api/v1/verify req/s", f"{verify['rate']:.0f}", "", verify["errors"] == 0),
        ("verify / healthz", f"{verify_ratio:.2f}", ">= 0.6", verify_ratio >= 0.6),
        (
            f"verify p99 latency, {connections} scanners",
            f"{verify['p99_ms']:.1f} ms",
            "< 50 ms",
            verify["p99_ms"] < 50,
        ),
        ("POST /api/v1/visits req/s", f"{visits['rate']:.0f}", "", visits["errors"] == 0),
        (
            f"festival gate: visits / healthz, {connections} scanners, one venue",
            f"{visits_ratio:.2f}",
            ">= 0.5",
            visits_ratio >= 0.5,
        ),
        (
            "festival gate: every visit stored once, counted once",
            f"{stored['visits']} stored / {answered} answered; rollup {stored['rollup']}"
            f" / {stored['all']}",
            "stored once, rollup exact",
            once,
        ),
        (
            "CPU per request, workers + database: healthz / verify / visits",
            " / ".join(
                f"{median(endpoint, 'workers_ms'):.1f}+{median(endpoint, 'database_ms'):.1f}"
                for endpoint in ("health", "verify", "visits")
            )
            + " ms",
            "",
            True,
        ),
        *(
            []
            if use_sqlite
            else [
                (
                    "festival gate: busy database sessions waiting for a lock",
                    f"{median('visits', 'lock_share'):.0%}",
                    "",
                    True,
                )
            ]
        ),
        (
            "memory per worker after the load",
            f"{max(memory):.0f} MB",
            "< 150 MB",
            max(memory) < 150,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    for figure, value, target, met in measure(args.seconds, args.connections, args.sqlite):
        print(f"{figure:45} {value:>12}  {target:10} {'ok' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
