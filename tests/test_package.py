"""The app as a newcomer gets it: a fresh clone, `make run`, the README's commands, a wheel.

Each test works in a fresh copy of the checkout made of exactly the files a clone would hold
(tracked files and new ones that .gitignore does not hide, as they are in the working tree),
with `.venv` pointing at the virtual environment running the tests. `make` is told never to
rebuild that environment (`-o .venv/bin/flask`): the shared one must not be reinstalled.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import create_postgres_database, postgres_server_url
from tests.factories import create_card
from webapp import ROOT, create_app, demo
from webapp.extensions import db
from webapp.models import Card, Organisation

pytestmark = pytest.mark.package

README = ROOT / "README.md"
MAKE = ["make", "--no-print-directory", "-o", ".venv/bin/flask"]


def fresh_clone(target: Path) -> Path:
    """Copy the files a clone of this checkout holds into target; link .venv to ours."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (os.fsdecode(n) for n in listed)):
        source = ROOT / name
        if source.is_file():  # a file deleted in the working tree is gone from the clone too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(sys.prefix)
    return target


def newcomer_env(**extra) -> dict:
    """The environment of a new shell: none of the test run's Python or Flask settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "FLASK_", "DATABASE_URL", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def run(command, cwd: Path, env: dict, **kwargs) -> subprocess.CompletedProcess:
    shell = isinstance(command, str)
    result = subprocess.run(
        command, cwd=cwd, env=env, shell=shell, capture_output=True, text=True, timeout=120,
        **kwargs,
    )  # fmt: skip
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def database(tmp_path):
    """The database `make run` uses: its default SQLite file, or a fresh PostgreSQL one."""
    if not os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    url, drop = create_postgres_database(postgres_server_url())
    yield url
    drop()


def demo_cards(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^([a-z]+) ([2-9A-HJKMNP-Z]{9})$", stdout, re.M))


@contextmanager
def database_session(url: str):
    """A session on the clone's database, closed with all its connections at the end."""
    with create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"}).app_context():
        try:
            yield db.session
        finally:
            db.session.remove()
            db.engine.dispose()


def add_real_card(url: str) -> str:
    """Register a card at the demo distributor, as a user of the running app would."""
    with database_session(url) as session:
        issuer = session.scalar(sa.select(Organisation).filter_by(name="Kuopion sosiaalipalvelut"))
        number = create_card(issuer).number
        session.commit()
    return number


def count_cards(url: str) -> int:
    with database_session(url) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Card))


def test_make_run_sets_up_again_on_a_database_with_real_cards(tmp_path, database):
    clone = fresh_clone(tmp_path / "clone")
    env = newcomer_env(**({"DATABASE_URL": database} if database else {}))
    url = database or f"sqlite:///{clone / 'instance' / 'kaikukortti.db'}"

    first = demo_cards(run([*MAKE, "prepare"], clone, env).stdout)
    assert tuple(first) == demo.CARD_STATES
    assert demo_cards(run([*MAKE, "prepare"], clone, env).stdout) == first

    number = add_real_card(url)
    after = run([*MAKE, "prepare"], clone, env)
    assert "holds data that is not demo data" in after.stderr
    assert "The demo was not loaded; the database is used as it is." in after.stderr
    assert count_cards(url) == len(demo.CARD_STATES) + 1 and number

    serving = run([*MAKE, "-n", "run"], clone, env).stdout.splitlines()
    assert ".venv/bin/flask demo --if-possible" in serving
    assert serving[-1].startswith(".venv/bin/flask run")


def readme_commands() -> list[str]:
    """Every `.venv/bin/flask` command of the README, in the order a reader meets them."""
    text = README.read_text()
    bare = re.findall(r"(?<!\.venv/bin/)\bflask --app [^`\n]*", text)
    assert not bare, f"without an active venv these fail with 'No such command': {bare}"
    commands = re.findall(r"`(\.venv/bin/flask [^`]+)`|^(\.venv/bin/flask .+)$", text, re.M)
    return list(dict.fromkeys(inline or block for inline, block in commands))


def test_readme_commands_work_as_written_in_a_fresh_clone(tmp_path, database):
    clone = fresh_clone(tmp_path / "clone")
    env = newcomer_env(**({"DATABASE_URL": database} if database else {}))
    run(["make", "--version"], clone, env)
    targets = re.findall(r"`make ([a-z-]+)`", README.read_text())
    assert {"run", "test", "prepare", "lint", "messages", "bench"} <= set(targets)
    for target in dict.fromkeys(targets):
        run([*MAKE, "-n", target], clone, env)  # each target the README names exists

    run([*MAKE, "prepare"], clone, env)  # what `make run` does before serving
    commands = readme_commands()
    assert len(commands) >= 8, commands
    filled = {"EMAIL": "ovi@example.fi", "FILE": str(tmp_path / "backup.db")}
    for command in commands:
        for placeholder, value in filled.items():
            command = command.replace(placeholder, value)
        assert not re.search(r"\b[A-Z][A-Z_]+\b", command), f"unfilled placeholder: {command}"
        result = run(command, clone, env, input="y\n")  # `restore` asks first
        if command.endswith(" keys list"):
            filled["KEY_ID"] = result.stdout.split()[0]
        if " api-token " in command:
            assert re.fullmatch(r"\S{20,}", result.stdout.splitlines()[-1]), result.stdout

    activated = run(
        ". .venv/bin/activate && flask --app webapp api-token jakaja@example.fi", clone, env
    )
    assert re.fullmatch(r"\S{20,}", activated.stdout.splitlines()[-1])


# Run by the wheel's own files: sign in as each role and read the pages and assets it needs.
SERVE = r"""
import json, re, sys
import webapp
from webapp import create_app

app = create_app()
client = app.test_client()
out = {"package": webapp.__file__, "templates": app.template_folder, "static": app.static_folder}
sign_in = client.get("/")
out["sign_in"] = [sign_in.status_code, sign_in.get_data(as_text=True)]
for path in ("/static/js/scanner.js", "/static/css/app.css", "/sw.js", "/api/v1/openapi.json"):
    out[path] = client.get(path).status_code
for email in sys.argv[1:]:
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    answer = client.post("/", data={"email": email, "password": "kaikukortti-demo",
                                    "csrf_token": token}, follow_redirects=True)
    out[email] = [answer.status_code, answer.request.path]
swedish = app.test_client()
swedish.set_cookie("lang", "sv")
out["swedish"] = swedish.get("/").get_data(as_text=True)
print(json.dumps(out))
"""


def test_the_wheel_alone_migrates_loads_the_demo_and_serves(tmp_path):
    source = fresh_clone(tmp_path / "source")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path / "dist"), str(source)],
        tmp_path,
        newcomer_env(),
    )
    (wheel,) = (tmp_path / "dist").glob("kaikukortti-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = newcomer_env(PYTHONPATH=str(site))
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]

    run([*flask, "db", "upgrade"], elsewhere, env)
    demo = run([*flask, "demo"], elsewhere, env)
    assert re.search(r"^lappi \w+$", demo.stdout, re.MULTILINE)
    emails = ["koordinaattori@example.fi", "jakaja@example.fi", "ovi@example.fi"]
    served = json.loads(run([sys.executable, "-c", SERVE, *emails], elsewhere, env).stdout)

    assert Path(served["package"]).parent == site / "webapp"
    assert Path(served["templates"]) == site / "webapp" / "templates"
    assert Path(served["static"]) == site / "webapp" / "static"
    assert (site / "webapp" / "data" / "postcodes.csv").is_file()  # the municipalities
    assert served["sign_in"][0] == 200 and "Kirjaudu sisään" in served["sign_in"][1]
    assert "Logga in" in served["swedish"]
    for path in ("/static/js/scanner.js", "/static/css/app.css", "/sw.js", "/api/v1/openapi.json"):
        assert served[path] == 200, path
    assert served["koordinaattori@example.fi"] == [200, "/coordinator/"]
    assert served["jakaja@example.fi"] == [200, "/distributor/"]
    assert served["ovi@example.fi"] == [200, "/scan"]
    assert (site / "instance" / "kaikukortti.db").is_file()  # beside the package, as Flask does
    assert not (source / "instance").exists()
