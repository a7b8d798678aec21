// Service worker of the cardholder's digital card, served from /k/sw.js (scope /k/).
// It keeps only what a card page asks it to keep: the page itself and its static files.
// Everything is fetched from the network first; the kept copy answers only when offline.
// The phone's key and certificate (/k/<key>/device) and all POSTs always go to the network;
// the page holds no code at all (the phone signs its codes itself).
"use strict";

const CACHE = "kaikukortti-card-v2"; // v1 kept pages that held the printed code
const OFFLINE_CARD_HEADER = "X-Offline-Card";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n.startsWith("kaikukortti-card-") && n !== CACHE).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function sameOrigin(url) {
  return new URL(url, self.location.href).origin === self.location.origin;
}

self.addEventListener("message", (event) => {
  const port = event.ports[0];
  if (!event.data || event.data.type !== "keep" || !port) return;
  const urls = [...new Set(event.data.urls.filter(sameOrigin))];
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(urls))
      .then(() => port.postMessage("kept"))
      .catch((error) => port.postMessage(String(error))),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    if (kept) return kept;
    throw error;
  }
  if (request.mode === "navigate") {
    if (response.ok && response.headers.get(OFFLINE_CARD_HEADER)) {
      await cache.put(request.url.split("?")[0], response.clone());
    } else if ([403, 404, 410].includes(response.status)) {
      // The card moved to another phone or another link: forget the kept copy.
      await cache.delete(request, { ignoreSearch: true });
    }
  } else if (kept && response.ok) {
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !sameOrigin(request.url)) return;
  const path = new URL(request.url).pathname;
  if (path.endsWith("/device")) return; // never keep the key's state
  event.respondWith(networkFirst(request));
});
