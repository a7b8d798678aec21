import re
from playwright.sync_api import expect
from .test_scanner import VERDICT, type_number

OUT = "/tmp/doorui/shots"


def login(page, base, email, lang):
    page.goto(f"{base}/language/{lang}?next=/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill("kaikukortti-demo")
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


def test_shots(browser, live_server, demo_cards, camera_page):
    for lang in ("fi", "sv"):
        for width in (390, 1280):
            from webapp.extensions import db
            from webapp.models import Visit
            db.session.rollback(); db.session.query(Visit).delete(); db.session.commit()
            ctx = browser.new_context(permissions=["camera"], viewport={"width": width, "height": 844})
            page = camera_page(ctx, None)
            login(page, live_server.url, "ovi@example.fi", lang)
            page.screenshot(path=f"{OUT}/scan-start-{lang}-{width}.png", full_page=True)
            page.locator("#scanner-start").click()
            expect(page.locator("#scanner")).to_have_attribute("data-camera", "running")
            v = page.locator(VERDICT)
            for number, state in [(demo_cards["active"], "ok")]:
                type_number(page, number)
                expect(v).to_have_attribute("data-state", "ok")
                page.keyboard.press("Tab")
                page.screenshot(path=f"{OUT}/scan-ok-{lang}-{width}.png")
                page.locator("#verdict .record-button").focus()
                page.keyboard.press("Enter")
                expect(v).to_have_attribute("data-state", "recorded")
                page.keyboard.press("Escape")
            type_number(page, demo_cards["active"])
            expect(v).to_have_attribute("data-state", "warn")
            page.keyboard.press("Tab")
            page.screenshot(path=f"{OUT}/scan-warn-{lang}-{width}.png")
            page.keyboard.press("Escape")
            type_number(page, demo_cards["revoked"])
            expect(v).to_have_attribute("data-state", "refuse")
            page.keyboard.press("Tab")
            page.screenshot(path=f"{OUT}/scan-refuse-{lang}-{width}.png")
            page.keyboard.press("Escape")
            page.screenshot(path=f"{OUT}/scan-after-{lang}-{width}.png")
            ctx.close()

            ctx = browser.new_context(permissions=["camera"], viewport={"width": width, "height": 844})
            page = camera_page(ctx, None)
            login(page, live_server.url, "opisto@example.fi", lang)
            page.locator("#scanner-start").click()
            type_number(page, demo_cards["active"])
            expect(page.locator(VERDICT)).to_have_attribute("data-state", "ok")
            page.screenshot(path=f"{OUT}/scan-course-{lang}-{width}.png")
            page.goto(f"{live_server.url}/venue/stats")
            page.screenshot(path=f"{OUT}/venue-stats-{lang}-{width}.png", full_page=True)
            ctx.close()

            ctx = browser.new_context(viewport={"width": width, "height": 844})
            page = ctx.new_page()
            login(page, live_server.url, "jakaja@example.fi", lang)
            page.screenshot(path=f"{OUT}/dist-list-{lang}-{width}.png", full_page=True)
            page.goto(f"{live_server.url}/distributor/cards/{demo_cards['expired']}/renew")
            page.screenshot(path=f"{OUT}/dist-renew-{lang}-{width}.png", full_page=True)
            page.locator("form.form button[type=submit]").click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=f"{OUT}/dist-renewed-{lang}-{width}.png", full_page=True)
            page.goto(f"{live_server.url}/distributor/cards/new")
            page.locator("form.register-form button[type=submit]").click()
            page.wait_for_timeout(500)
            page.locator("#birth_year").fill("1980"); page.locator("#birth_year").dispatch_event("change")
            page.wait_for_timeout(300)
            page.locator("#postcode").fill("70100"); page.locator("#postcode").dispatch_event("change")
            page.wait_for_timeout(500)
            page.screenshot(path=f"{OUT}/dist-register-fixed-{lang}-{width}.png", full_page=True)
            ctx.close()

            ctx = browser.new_context(viewport={"width": width, "height": 844})
            page = ctx.new_page()
            login(page, live_server.url, "jakaja.lappi@example.fi", lang)
            page.screenshot(path=f"{OUT}/lappi-list-{lang}-{width}.png", full_page=True)
            page.goto(f"{live_server.url}/distributor/cards/{demo_cards['lappi']}")
            page.screenshot(path=f"{OUT}/lappi-card-{lang}-{width}.png", full_page=True)
            ctx.close()
