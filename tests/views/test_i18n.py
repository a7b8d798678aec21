import pytest
from babel.messages.pofile import read_po

from webapp import ROOT


@pytest.mark.parametrize(
    ("code", "sign_in"),
    [("fi", "Kirjaudu sisään"), ("sv", "Logga in"), ("en", "Sign in")],
)
def test_sign_in_page_speaks_the_chosen_language(client, code, sign_in):
    response = client.get(f"/language/{code}?next=/")
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert f'<html lang="{code}">' in page.text
    assert sign_in in page.text


def test_finnish_is_the_default_whatever_the_browser_asks(client):
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="fi">' in page.text


def test_unknown_language_is_ignored(client):
    client.get("/language/de")
    assert '<html lang="fi">' in client.get("/").text


def test_language_switch_is_on_every_page(signed_in):
    page = signed_in("ovi@example.fi").get("/scan")
    for name in ("Suomi", "Svenska", "English"):
        assert name in page.text


@pytest.mark.parametrize("code", ["fi", "sv"])
def test_catalog_translates_every_message(code):
    with open(ROOT / "webapp" / "translations" / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert missing == []


def test_catalogs_hold_every_message_of_the_code_and_templates():
    from babel.messages.extract import extract_from_dir

    method_map = [("webapp/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    keywords["N_"] = None  # marked where declared (schemas, errors), translated where shown
    in_sources = {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(str(ROOT), method_map, keywords=keywords)
    }
    with open(ROOT / "webapp" / "translations" / "fi" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert in_sources - catalog == set()
