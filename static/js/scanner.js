// The venue scanner: camera → QR code → verdict → record, online or offline.
//
// Online, the code goes to the server (POST /scan/verify) and the answer is an htmx
// fragment. When the server cannot be reached, the page decides from the venue's
// validity list in IndexedDB (offline-verdict.js) and keeps visits in a queue that is
// sent by itself when the network returns (offline-queue.js, also from the service
// worker). The same code seen again within a few seconds is ignored.

import { normalizeNumber, parsePrinted } from "./cardnumber.js";
import { createDetector } from "./decoder.js";
import { OfflineList, finnishToday, offlineVerdict } from "./offline-verdict.js";
import { registerServiceWorker } from "./pwa.js";
import { ScannerUI } from "./scanner-ui.js";

const REPEAT_MS = 4000;
const VERIFY_TIMEOUT_MS = 3500;
const PROBE_MS = 15000;
const LIST_SYNC_MS = 5 * 60 * 1000;
const CSRF_REFRESH_MS = 15 * 60 * 1000;
const RETRY_MS = [5000, 10000, 20000, 60000];
const VISITED_KEY = "kaikukortti-visited";

const config = JSON.parse(document.getElementById("scanner-config").textContent);
const store = self.KaikuOffline;
store.configure({ urls: config.urls });
const ui = new ScannerUI(config);
const video = document.getElementById("camera-video");
const beginButton = document.getElementById("scanner-start");
const startButton = document.getElementById("camera-start");
const torchButton = document.getElementById("torch-toggle");
const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const scanner = document.getElementById("scanner");

const state = {
  online: navigator.onLine,
  list: null,
  busy: false,
  last: { text: null, seen: 0 },
  stream: null,
  running: false,
  retries: 0,
  retryTimer: null,
  started: false,
};
const detectorReady = createDetector();
detectorReady.catch(() => null); // reported when the camera starts

// --- camera ----------------------------------------------------------------------------

async function startCamera() {
  if (state.running) return;
  startButton.hidden = true;
  if (!navigator.mediaDevices?.getUserMedia) {
    ui.cameraMessage("camera_missing");
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (error) {
    ui.cameraMessage(error.name === "NotAllowedError" ? "camera_denied" : "camera_missing");
    startButton.hidden = false;
    return;
  }
  video.srcObject = state.stream;
  await video.play().catch(() => null);
  setUpTorch(state.stream.getVideoTracks()[0]);
  let detector;
  try {
    detector = await detectorReady;
  } catch {
    ui.cameraMessage("decoder_failed");
    return;
  }
  ui.cameraMessage("camera_ready");
  state.running = true;
  scanner.dataset.camera = "running";
  scanFrames(detector);
}

function stopCamera() {
  state.running = false;
  scanner.dataset.camera = "stopped";
  state.stream?.getTracks().forEach((track) => track.stop());
  state.stream = null;
  video.srcObject = null;
}

function scanFrames(detector) {
  const next = () => {
    if (!state.running) return;
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(tick);
    else setTimeout(tick, 60);
  };
  const tick = async () => {
    if (!state.running) return;
    if (video.readyState >= 2) {
      try {
        const codes = await detector.detect(video);
        if (codes.length) onCode(codes[0].rawValue);
      } catch {
        // an unreadable frame: try the next one
      }
    }
    next();
  };
  next();
}

function setUpTorch(track) {
  const capabilities = track?.getCapabilities ? track.getCapabilities() : {};
  torchButton.hidden = !capabilities.torch;
  torchButton.onclick = async () => {
    const on = torchButton.getAttribute("aria-pressed") !== "true";
    try {
      await track.applyConstraints({ advanced: [{ torch: on }] });
      torchButton.setAttribute("aria-pressed", String(on));
    } catch {
      torchButton.hidden = true;
    }
  };
}

// --- verdicts --------------------------------------------------------------------------

function onCode(text) {
  if (state.busy) return;
  const now = performance.now();
  const repeat = text === state.last.text && now - state.last.seen < REPEAT_MS;
  state.last = { text, seen: now };
  if (!repeat) handleScan({ token: text });
}

async function handleScan(scan) {
  state.busy = true;
  const scannedAt = new Date().toISOString();
  try {
    if (state.online) {
      try {
        const html = await verifyOnline(scan);
        if (html !== null) ui.showHtml(html, scannedAt);
        return;
      } catch (error) {
        if (error instanceof Refused) {
          ui.showMessage(config.labels.try_again);
          return;
        }
        setOnline(false); // no network, or the server is down: decide from the list
      }
    }
    const result = await offlineVerdict(scan, state.list, { visitedToday });
    ui.showOffline(result, scan, scannedAt);
  } finally {
    state.busy = false;
  }
}

/** The server's verdict fragment; null when it answered something else (already shown). */
async function verifyOnline(scan, retried = false) {
  const body = new URLSearchParams({ venue: config.venue, event: config.event ?? "" });
  if (scan.token) body.set("token", scan.token);
  else body.set("number", scan.number);
  const response = await fetch(config.urls.verify, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { "HX-Request": "true", "X-CSRFToken": csrfMeta.content },
    signal: timeoutSignal(VERIFY_TIMEOUT_MS),
  });
  if (response.redirected) {
    ui.showMessage(config.labels.signed_out);
    return null;
  }
  if (response.status === 400 && !retried) {
    await refreshCsrf(); // the page's CSRF token has aged: fetch a new one and retry
    return verifyOnline(scan, true);
  }
  if (response.status >= 400 && response.status < 500) throw new Refused(response.status);
  if (!response.ok) throw new Error(`verify: HTTP ${response.status}`);
  return response.text();
}

/** The server answered, but refused the request itself (not the card). */
class Refused extends Error {}

function timeoutSignal(ms) {
  if (AbortSignal.timeout) return AbortSignal.timeout(ms);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms);
  return controller.signal;
}

function manualEntry(form) {
  const input = form.elements.number;
  if (!parsePrinted(input.value)) {
    ui.fieldError(input, config.labels.invalid_number);
    input.focus();
    return;
  }
  ui.fieldError(input, "");
  const number = normalizeNumber(input.value);
  input.value = "";
  handleScan({ number });
}

// --- recording offline -----------------------------------------------------------------

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

function visitedMap() {
  try {
    const all = JSON.parse(localStorage.getItem(VISITED_KEY) || "{}");
    return all[config.venue] || {};
  } catch {
    return {};
  }
}

function visitedToday(cardId) {
  return visitedMap()[cardId] === finnishToday();
}

function rememberVisit(cardId) {
  const today = finnishToday();
  const mine = Object.fromEntries(Object.entries(visitedMap()).filter(([, d]) => d === today));
  mine[cardId] = today;
  try {
    const all = JSON.parse(localStorage.getItem(VISITED_KEY) || "{}");
    localStorage.setItem(VISITED_KEY, JSON.stringify({ ...all, [config.venue]: mine }));
  } catch {
    // private mode without storage: only the warning is lost
  }
}

async function queueVisit(visit) {
  const entry = await store.enqueue({ venue: config.venue, event: config.event, ...visit });
  ui.showQueued(entry);
  ui.queuedRow(entry);
  await refreshStatus();
}

async function recordOffline(form) {
  const { scan, scannedAt, card, number } = form.kaikuScan;
  rememberVisit(card.id);
  await queueVisit({
    key: newKey(),
    token: scan.token || null,
    number: scan.token ? null : normalizeNumber(scan.number),
    children: Number(form.elements.children?.value || 0),
    scanned_at: scannedAt,
    display: number ? number.replace(/(.{3})(?=.)/g, "$1 ") : "",
  });
}

/** The server did not answer a visit verified online: keep it to send later. */
async function recordAfterNetworkFailure(form) {
  const data = new FormData(form);
  let token = data.get("token");
  let number = data.get("number");
  if (token?.startsWith("D.")) {
    // A digital code is too old by the time it is sent; the server verified it already,
    // so its number is enough.
    number = token.split(".")[1];
    token = null;
  }
  const panel = form.closest(".verdict");
  setOnline(false);
  await queueVisit({
    key: data.get("idempotency_key"),
    token,
    number,
    children: Number(data.get("children") || 0),
    scanned_at: panel?.dataset.scannedAt || new Date().toISOString(),
    display: panel?.querySelector(".card-number")?.textContent || "",
  });
}

async function cancelVisit(key) {
  if (await store.cancel(key)) {
    ui.rowState(key, config.labels.undone);
    if (ui.verdict.querySelector(`[data-cancel-visit="${key}"]`)) ui.close();
  } else {
    ui.showMessage(config.labels.already_sent);
  }
  await refreshStatus();
}

// --- network, lists and the queue ------------------------------------------------------

function setOnline(online) {
  const changed = online !== state.online;
  state.online = online;
  refreshStatus();
  if (changed && online) syncAll();
}

async function refreshCsrf() {
  const response = await fetch(config.urls.session, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    cache: "no-store",
    signal: timeoutSignal(VERIFY_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`session: HTTP ${response.status}`);
  csrfMeta.content = (await response.json()).csrf_token;
}

async function probe() {
  if (!navigator.onLine) return setOnline(false);
  try {
    await refreshCsrf();
    setOnline(true);
  } catch {
    setOnline(false);
  }
}

async function syncAll() {
  if (!state.online) return;
  try {
    state.list = new OfflineList(await store.syncList(config.venue));
  } catch {
    // keep the stored list; the status line shows its age
  }
  await sendQueue();
}

/** Send the waiting visits; while some are left, try again later, less and less often. */
async function sendQueue() {
  clearTimeout(state.retryTimer);
  await store.flush().catch(() => null);
  const visits = await refreshStatus();
  const left = visits.filter((v) => v.status === "pending").length;
  if (left && state.online) {
    const delay = RETRY_MS[Math.min(state.retries, RETRY_MS.length - 1)];
    state.retries += 1;
    state.retryTimer = setTimeout(sendQueue, delay);
  } else {
    state.retries = 0;
  }
}

async function refreshStatus() {
  const visits = await store.visits().catch(() => []);
  ui.setStatus({
    online: state.online,
    pending: visits.filter((v) => v.status === "pending").length,
    refused: visits.filter((v) => v.status === "refused").length,
    list: state.list,
  });
  return visits;
}

function onStoreMessage(message) {
  if (message.type === "sent") ui.rowState(message.key, config.labels.sent);
  if (message.type === "refused") ui.rowState(message.key, ui.refusalText(message.error));
  refreshStatus();
}

// --- wiring ----------------------------------------------------------------------------

htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "(404|409|422)", swap: true },
  { code: "[45]..", swap: false, error: true },
];

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.id === "manual-entry") {
    event.preventDefault();
    manualEntry(form);
  } else if (form.matches('#verdict form[data-slot="record"]')) {
    event.preventDefault();
    recordOffline(form);
  }
});

document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.matches("[data-step]")) ui.step(target);
  else if (target.matches("[data-close-verdict]")) ui.close();
  else if (target.matches("[data-cancel-visit]")) cancelVisit(target.dataset.cancelVisit);
});

document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target === ui.verdict) ui.present();
});

function onRequestFailure(event) {
  const form = event.detail.elt?.closest?.(".verdict-record");
  const status = event.detail.xhr?.status;
  if (form && form.dataset.retried !== "true" && status === 400) {
    form.dataset.retried = "true";
    refreshCsrf().then(() => htmx.trigger(form, "submit"));
  } else if (form && (!status || status >= 500)) {
    recordAfterNetworkFailure(form);
  } else if (event.detail.target === ui.verdict || form) {
    ui.showMessage(config.labels.try_again);
  }
}
for (const name of ["htmx:sendError", "htmx:timeout", "htmx:responseError"]) {
  document.body.addEventListener(name, onRequestFailure);
}

/** The first tap: camera on, and tones and vibration allowed from the very first verdict. */
function begin() {
  ui.unlockSounds();
  state.started = true;
  beginButton.hidden = true;
  startCamera();
}

beginButton.addEventListener("click", begin);
beginButton.hidden = false; // without this script there is no camera to start
startButton.addEventListener("click", startCamera);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && ui.isOpen()) {
    event.preventDefault();
    ui.close();
  }
});
// Phones let a page make sound only from a tap's end, a click or a key, not its start.
for (const type of ["pointerup", "touchend", "click", "keydown"]) {
  document.addEventListener(type, () => ui.unlockSounds(), { passive: true });
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden) stopCamera();
  else if (state.started) startCamera();
});
window.addEventListener("online", probe);
window.addEventListener("offline", () => setOnline(false));
if (typeof BroadcastChannel !== "undefined") {
  new BroadcastChannel("kaikukortti").onmessage = (event) => onStoreMessage(event.data);
}

async function start() {
  const stored = await store.getList(config.venue).catch(() => null);
  if (stored && !state.list) state.list = new OfflineList(stored);
  const visits = await refreshStatus();
  ui.showQueuedRows(visits.filter((v) => v.venue === config.venue));
  if (state.online) await syncAll();
  registerServiceWorker(config.urls.serviceWorker, (apply) => {
    const banner = document.getElementById("update-banner");
    banner.hidden = false;
    document.getElementById("update-reload").onclick = apply;
  }).catch(() => null);
  setInterval(() => (state.online ? syncAll() : probe()), LIST_SYNC_MS);
  setInterval(() => (state.online ? refreshCsrf().catch(() => null) : null), CSRF_REFRESH_MS);
  setInterval(() => {
    ui.expireUndo();
    if (!state.online) probe();
  }, PROBE_MS);
}

start();
