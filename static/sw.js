// Kaikukortti service worker, served from /sw.js (scope "/") by webapp/views/pwa.py,
// which puts `self.KAIKU_SW = {version, precache, urls, offlineQueue}` on the line above.
//
// - Precaches the scanner's shell (CSS, JS, htmx, the QR decoder and its wasm)
//   and answers /static/ requests from that cache: a reload moves no static bytes.
// - /scan pages: network first, the last good copy when the network is gone. The first
//   copy is taken when the worker activates: a revalidation, which the server answers 304
//   for the page the browser has just loaded in the same session (webapp/views/scanner.py).
// - Never caches htmx fragments, JSON answers or anything that is not a GET.
// - Sends visits recorded offline (IndexedDB, see offline-queue.js) on Background Sync.
// - A new version waits until the page asks it to take over (the reload prompt).
"use strict";

const SETTINGS = self.KAIKU_SW || { version: "dev", precache: [], urls: {}, offlineQueue: "" };
const PREFIX = "kaikukortti-";
const SHELL = `${PREFIX}shell-${SETTINGS.version}`;
const PAGES = `${PREFIX}pages`;
const NETWORK_TIMEOUT_MS = 4000;

if (SETTINGS.offlineQueue) {
  importScripts(SETTINGS.offlineQueue);
  self.KaikuOffline.configure({ urls: SETTINGS.urls });
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      // no-cache: revalidate with the server so a new version never precaches stale files.
      await cache.addAll(SETTINGS.precache.map((url) => new Request(url, { cache: "no-cache" })));
      // The very first worker may take over at once; an update waits for the page.
      if (!self.registration.active) await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== SHELL && name !== PAGES) await caches.delete(name);
      }
      await self.clients.claim();
      const scan = new Request(SETTINGS.urls.scan, { cache: "no-cache" });
      await keepScanPage(scan).catch(() => null);
      flushQueue();
    })(),
  );
});

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "skip-waiting") self.skipWaiting();
  if (type === "flush") event.waitUntil(flushQueue());
});

self.addEventListener("sync", (event) => {
  if (self.KaikuOffline && event.tag === self.KaikuOffline.SYNC_TAG) {
    event.waitUntil(self.KaikuOffline.flush());
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === SETTINGS.urls.signOut) {
    // Signing out: forget the signed-in user's cached page.
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET" || request.headers.has("HX-Request")) return;
  if (SETTINGS.precache.includes(url.pathname) && !url.search) {
    event.respondWith(fromShell(request));
  } else if (request.mode === "navigate" && url.pathname === SETTINGS.urls.scan) {
    event.respondWith(scanPage(request));
  }
});

async function fromShell(request) {
  const cached = await caches.match(request, { cacheName: SHELL });
  return cached || fetch(request);
}

/** The scanner page from the network, or its last good copy when the network fails. */
async function scanPage(request) {
  try {
    return await keepScanPage(request);
  } catch (error) {
    const cached = await caches.match(SETTINGS.urls.scan, { cacheName: PAGES });
    if (cached) return cached;
    throw error;
  }
}

/** Fetch the page; keep a copy when it is the signed-in scanner (not a redirect). */
async function keepScanPage(request) {
  const response = await fetchWithTimeout(request, NETWORK_TIMEOUT_MS);
  const type = response.headers.get("Content-Type") || "";
  if (response.ok && !response.redirected && type.startsWith("text/html")) {
    const cache = await caches.open(PAGES);
    await cache.put(SETTINGS.urls.scan, response.clone());
  }
  return response;
}

function fetchWithTimeout(request, ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  return fetch(request, { signal: controller.signal }).finally(() => clearTimeout(timer));
}

function flushQueue() {
  return self.KaikuOffline ? self.KaikuOffline.flush().catch(() => null) : Promise.resolve();
}
