"""Load and fault runs: a private PostgreSQL cluster and gunicorn serving the real app.

They run in the PostgreSQL half of the suite (TEST_DATABASE_URL set to a PostgreSQL URL);
on the SQLite half this folder is not collected.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from .gunicorn import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql") / sorted(os.listdir("/usr/lib/postgresql"))[-1] / "bin"

if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
    collect_ignore_glob = ["test_*.py"]


def _as_postgres(*command: str) -> None:
    prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of this test run alone, so that it can be restarted at will."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "server.log"),
            "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            *args,
        )

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")


@pytest.fixture(scope="session")
def private_postgres():
    directory = Path(tempfile.mkdtemp(prefix="kk-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(directory / "data"), "-A", "trust", "-U", "postgres"
    )
    cluster = PrivatePostgres(directory, free_port())
    cluster.pg_ctl("start")
    yield cluster
    cluster.pg_ctl("stop", "-m", "immediate")
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Server:
    url: str
    env: dict
    process: subprocess.Popen

    def flask(self, *args: str) -> str:
        return subprocess.run(
            [str(Path(sys.executable).parent / "flask"), "--app", "webapp", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout


@pytest.fixture(scope="session")
def gunicorn_server(private_postgres):
    """gunicorn with 2 workers on a loopback port, the demo data loaded."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": private_postgres.url,
        "SECRET_KEY": "load-test",
        "CARD_SIGNING_KEYS": "load-test-key",
        "RATE_LIMITS": "0",
    }
    env.pop("TEST_DATABASE_URL", None)
    flask = Path(sys.executable).parent / "flask"
    for args in (["db", "upgrade"], ["demo"]):
        subprocess.run(
            [str(flask), "--app", "webapp", *args],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    with serving(env, port) as process:
        yield Server(f"http://127.0.0.1:{port}", env, process)
