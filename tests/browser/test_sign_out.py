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
