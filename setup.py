"""Build hook: the wheel carries the app's templates, static files, migrations and translations.

They stay at the top of the checkout (templates/, static/, migrations/), where the app finds
them when it runs from the source; an installed app finds them inside the package. The .mo
files are compiled here, so that a plain `pip install .` of a fresh clone gives a working app.
"""

import shutil
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA = ("templates", "static", "migrations")


class BuildPy(build_py):
    """Copy the top-level data folders into the package and compile the translations."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        package = Path(self.build_lib) / "webapp"
        skip = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in DATA:
            shutil.copytree(HERE / name, package / name, ignore=skip, dirs_exist_ok=True)
        for po in (HERE / "webapp" / "translations").glob("*/LC_MESSAGES/messages.po"):
            mo = package / po.relative_to(HERE / "webapp").with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source, mo.open("wb") as target:
                write_mo(target, read_po(source), use_fuzzy=True)


setup(cmdclass={"build_py": BuildPy})
