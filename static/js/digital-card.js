// The cardholder's digital card (/k/<key>): a live, time-limited QR code while online,
// the printed card's code offline, and a service worker that keeps the page for offline use.
(() => {
  "use strict";

  // The activation page opens the card on this phone by itself; the button is the fallback.
  const activate = document.getElementById("activate-form");
  if (activate && activate.dataset.autoSubmit === "true") {
    activate.dataset.autoSubmit = "done";
    if (activate.requestSubmit) activate.requestSubmit();
    else activate.submit();
    return;
  }

  const card = document.getElementById("digital-card");
  if (!card) return;

  const live = document.getElementById("qr-live");
  const still = document.getElementById("qr-static");
  const mode = document.getElementById("qr-mode");
  const refreshMs = Number(card.dataset.refreshSeconds || 30) * 1000;
  const MARGIN_MS = 15000; // stop showing a live code this long before it expires
  let liveUntil = 0;
  let lastFetch = 0;

  function say(text) {
    if (mode && text && mode.textContent !== text) mode.textContent = text;
  }

  function showStatic() {
    liveUntil = 0;
    if (!live || !still) return;
    live.hidden = true;
    still.hidden = false;
    if (!navigator.onLine) say(mode.dataset.offlineText);
  }

  function showLive(svg, expiresInSeconds) {
    live.innerHTML = svg;
    live.hidden = false;
    still.hidden = true;
    liveUntil = Date.now() + expiresInSeconds * 1000 - MARGIN_MS;
    say(mode.dataset.liveText);
  }

  async function refresh() {
    if (!live || card.dataset.status === "revoked") return;
    lastFetch = Date.now();
    if (!navigator.onLine) {
      showStatic();
      return;
    }
    let response;
    try {
      response = await fetch(card.dataset.codeUrl, {
        cache: "no-store",
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch {
      showStatic();
      return;
    }
    if (response.status === 403 || response.status === 404) {
      // The card was moved to another phone: load the page again to show why.
      if (!sessionStorage.getItem("kk-card-reloaded")) {
        sessionStorage.setItem("kk-card-reloaded", "1");
        location.reload();
      }
      showStatic();
      return;
    }
    if (!response.ok) {
      showStatic();
      return;
    }
    sessionStorage.removeItem("kk-card-reloaded");
    const data = await response.json();
    showLive(data.svg, data.expires_in);
  }

  function tick() {
    if (liveUntil && Date.now() > liveUntil) showStatic();
    if (Date.now() - lastFetch >= refreshMs && !document.hidden) refresh();
  }

  window.addEventListener("online", refresh);
  window.addEventListener("offline", showStatic);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  refresh();
  setInterval(tick, 5000);

  // Keep this page and what it needs for offline use.
  async function keepOffline() {
    if (!("serviceWorker" in navigator)) return;
    await navigator.serviceWorker.register(card.dataset.swUrl, { scope: card.dataset.swScope });
    const registration = await navigator.serviceWorker.ready;
    const urls = [location.pathname];
    document
      .querySelectorAll('link[rel="stylesheet"], link[rel="icon"], link[rel="manifest"], script[src]')
      .forEach((el) => urls.push(el.href || el.src));
    await new Promise((resolve, reject) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (event) =>
        event.data === "kept" ? resolve() : reject(new Error(String(event.data)));
      registration.active.postMessage({ type: "keep", urls }, [channel.port2]);
    });
    document.documentElement.dataset.offlineReady = "true";
  }

  keepOffline().catch(() => {
    document.documentElement.dataset.offlineReady = "false";
  });
})();
