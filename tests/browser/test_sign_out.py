"""Signing out on a shared phone leaves none of the venue's offline data behind."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_scanner import open_scanner

COUNT_LISTS = """() => new Promise((resolve, reject) => {
  const request = indexedDB.open("kaikukortti");
  request.onerror = () => reject(request.error);
  request.onsuccess = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains("lists")) { db.close(); return resolve(0); }
    const count = db.transaction("lists").objectStore("lists").count();
    count.onsuccess = () => { db.close(); resolve(count.result); };
  };
})"""


def test_sign_out_clears_the_venues_offline_list_on_the_phone(live_server, demo_cards, camera_page):
    page = open_scanner(camera_page(None, None), live_server.url)
    page.wait_for_load_state("networkidle")  # the offline list has arrived
    page.evaluate("localStorage.setItem('kaikukortti-visited', '{\"1\": {}}')")
    assert page.evaluate(COUNT_LISTS) == 1

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate(COUNT_LISTS) == 0
    assert page.evaluate("localStorage.getItem('kaikukortti-visited')") is None
    assert page.errors == []


def test_back_after_sign_out_shows_the_sign_in_not_the_scanner(
    live_server, demo_cards, camera_page
):
    """A shared phone: the next person pressing Back must not get the last one's scanner,
    although the browser and its worker both held that page (the worker answered 304s)."""
    page = open_scanner(camera_page(None, None), live_server.url)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    page.reload()  # a load through the worker, revalidated: the copy the browser keeps
    expect(page.locator("#manual-entry")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    page.go_back()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("#manual-entry")).to_have_count(0)
    assert "/scan" not in page.url.split("?")[0]
