"""Lighthouse on the public catalogue, mobile profile: ``python -m bench.lighthouse_offers``.

Loads the demo into a fresh SQLite file, serves the app on a loopback port and runs
Lighthouse (npm; installed into a temporary folder when not on PATH) against ``/offers``
in Debian's headless Chromium, ``--runs`` times. Prints each category's score, the median
over the runs, and the target (0.95 in every category). Lighthouse's mobile profile
throttles the CPU 4x, so on a busy machine the performance score falls with the load
average, which is printed too.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.95
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run --disable-quic"
)


def lighthouse(work: Path) -> list[str]:
    found = shutil.which("lighthouse")
    if found:
        return [found]
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(work), "lighthouse@12"],
        check=True,
        capture_output=True,
    )
    return [str(work / "node_modules" / ".bin" / "lighthouse")]


def serve(work: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'demo.db'}", "PYTHONPATH": str(ROOT)}
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run(flask + command, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        flask + ["run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the app did not start")


def scores(command: list[str], url: str, report: Path) -> dict[str, float]:
    subprocess.run(
        [
            *command,
            url,
            "--quiet",
            "--form-factor=mobile",
            "--output=json",
            f"--output-path={report}",
            f"--chrome-flags={CHROME_FLAGS}",
        ],
        env={**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")},
        check=True,
        timeout=300,
    )
    categories = json.loads(report.read_text())["categories"]
    return {name: category["score"] for name, category in categories.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--lang", default="fi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        command = lighthouse(work)
        server = serve(work, args.port)
        try:
            url = f"http://127.0.0.1:{args.port}/offers?lang={args.lang}&region=pohjois-savo"
            runs = []
            for index in range(args.runs):
                try:
                    runs.append(scores(command, url, work / f"report-{index}.json"))
                except subprocess.CalledProcessError:
                    print(f"run {index + 1}: Lighthouse failed (it retries nothing)")
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"Lighthouse, mobile profile, {url} (load {os.getloadavg()[0]:.1f})")
    for name in ("performance", "accessibility", "best-practices", "seo"):
        values = [run[name] for run in runs if run.get(name) is not None]
        if not values:
            print(f"{name:15} no score")
            continue
        median = statistics.median(values)
        verdict = "ok" if median >= TARGET else "BELOW TARGET"
        shown = " ".join(f"{value:.2f}" for value in values)
        print(f"{name:15} median {median:.2f}  runs {shown}  target {TARGET}  {verdict}")


if __name__ == "__main__":
    main()
