// The venue scanner: camera → QR code → verdict → record, online or offline.
//
// Online, the code goes to the server (POST /scan/verify) and the answer is an htmx
// fragment. When the server cannot be reached, the page decides from the venue's
// validity list in IndexedDB (offline-verdict.js) and keeps visits in a queue that is
// sent by itself when the network returns (offline-queue.js, also from the service
// worker). The same code seen again by the camera within a few seconds is ignored; a USB
// barcode reader's code (wedge.js) is a scan each time, taken in turn.

import { formatNumber, normalizeNumber, parsePrinted, registerId } from "./cardnumber.js";
import { createDetector } from "./decoder.js";
import { OfflineList, finnishToday, offlineVerdict } from "./offline-verdict.js";
import { registerServiceWorker } from "./pwa.js";
import { ScannerUI } from "./scanner-ui.js";
import { listenForReader } from "./wedge.js";

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
  turn: Promise.resolve(),
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
    // While a scan is judged and its verdict painted, the camera rests: the phone's time
    // goes to the verdict (a code read meanwhile would be dropped anyway).
    if (video.readyState >= 2 && !state.busy) {
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

/** A reader's code: one press is one scan, so it waits its turn rather than being dropped.
 * A card number (typed too fast for a person, or read from a barcode of it) is one. */
function onReaderCode(text) {
  state.last = { text, seen: performance.now() };
  handleScan(parsePrinted(text) ? { number: normalizeNumber(text) } : { token: text });
}

/** Judge the scan once the one before it is done. */
function handleScan(scan) {
  const judged = state.turn.then(() => judge(scan));
  state.turn = judged.catch(() => null);
  return judged;
}

async function judge(scan) {
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
    await new Promise(requestAnimationFrame); // the verdict's frame: then the camera's next
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
  if (!parsePrinted(input.value) && !registerId(input.value)) {
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
  const place = { venue: config.venue, event: config.event, recorder: config.recorder };
  const entry = await store.enqueue({ ...place, ...visit });
  ui.showQueued(entry);
  ui.queuedRow(entry);
  await refreshStatus();
}

/** A stepper's count as a whole number from 0 to `max`. */
function count(input, max) {
  const asked = Math.floor(Number(input?.value || 0)) || 0;
  return Math.min(Math.max(asked, 0), max);
}

async function recordOffline(form) {
  const { scan, scannedAt, card, number } = form.kaikuScan;
  // The phone's list says how many children the card brings: never more (nor a fraction).
  const children = count(form.elements.children, card.max_children || 0);
  const assistants = count(form.elements.assistants, Number(form.elements.assistants.max));
  rememberVisit(card.id);
  await queueVisit({
    key: newKey(),
    token: scan.token || null,
    number: scan.token ? null : normalizeNumber(scan.number),
    children,
    assistants,
    scanned_at: scannedAt,
    display: number ? formatNumber(number) : "",
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
    maybe_sent: true, // the server may have stored it: an undo must reach the server
    token,
    number,
    children: Number(data.get("children") || 0),
    assistants: Number(data.get("assistants") || 0),
    scanned_at: panel?.dataset.scannedAt || new Date().toISOString(),
    display: panel?.querySelector(".card-number")?.textContent || "",
  });
}

/** Undo a visit of the recent list: locally if it never left the phone, else on the server. */
async function cancelVisit(key) {
  const done = await store.cancel(key).catch(() => false);
  if (done === "removed") {
    ui.rowState(key, config.labels.undone);
  } else if (done === "queued") {
    ui.rowState(key, config.labels.undo_waiting);
    sendQueue();
  } else {
    ui.showMessage(config.labels.already_sent);
  }
  if (done && ui.verdict.querySelector(`[data-cancel-visit="${key}"]`)) ui.close();
  await refreshStatus();
}

async function dismissVisit(key) {
  if (await store.dismiss(key).catch(() => false)) ui.removeRow(key);
  await refreshStatus();
}

/** Keep a visit recorded online in the phone's store, so that its undo survives a reload. */
function rememberRecorded(panel) {
  if (!panel?.dataset.key || panel.dataset.created !== "true") return;
  store
    .remember({
      key: panel.dataset.key,
      venue: config.venue,
      event: config.event,
      recorder: config.recorder,
      visit_id: Number(panel.dataset.visit),
      children: Number(panel.dataset.children || 0),
      assistants: Number(panel.dataset.assistants || 0),
      scanned_at: panel.dataset.recordedAt,
      display: panel.dataset.cardNumber || "",
    })
    .catch(() => null);
}

/** An undo done online: the phone's copy of the visit goes too. */
async function forgetUndone(visitId) {
  const visits = await store.visits().catch(() => []);
  const entry = visits.find((v) => v.visit_id === visitId && v.status === "sent");
  if (entry) await store.cancel(entry.key).then(() => sendQueue());
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
  const session = await response.json();
  csrfMeta.content = session.csrf_token;
  if (session.recorder) config.recorder = session.recorder; // a fresh signature, same person
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
  if (message.type === "sent") ui.rowState(message.key, config.labels.sent, { undo: true });
  if (message.type === "refused") ui.refusedRow(message.key, ui.refusalText(message.error));
  if (message.type === "undone") ui.rowState(message.key, config.labels.undone);
  if (message.type === "undo-refused") ui.refusedRow(message.key, ui.undoRefusalText(message.error));
  if (message.type === "dismissed") ui.removeRow(message.key);
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
  else if (target.matches("[data-dismiss-visit]")) dismissVisit(target.dataset.dismissVisit);
});

document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target !== ui.verdict) return;
  const panel = ui.verdict.querySelector(".verdict");
  if (panel?.dataset.state === "recorded") rememberRecorded(panel);
  if (panel?.dataset.state === "undone") forgetUndone(Number(panel.dataset.visit));
  ui.present();
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

listenForReader(onReaderCode);
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
