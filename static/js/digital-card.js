// The cardholder's digital card (/k/<key>): the phone makes its own non-extractable
// ECDSA P-256 key (WebCrypto, kept in IndexedDB), has it certified by the server once,
// then signs a fresh code every few seconds by itself, online or offline (format in
// webapp/tokens.py). No code on the page stays valid longer than DIGITAL_TOKEN_MAX_AGE.
// A service worker keeps the page for offline use.
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
  const mode = document.getElementById("qr-mode");
  const maxAgeMs = Number(card.dataset.maxAge || 120) * 1000;
  const refreshMs = Number(card.dataset.refreshSeconds || 20) * 1000;
  const CODE_DOMAIN = new TextEncoder().encode("kaikukortti.code.v1\0");
  const ECDSA = { name: "ECDSA", hash: "SHA-256" };
  let device = null; // {privateKey, certificate, serial, generation, offset}
  let shownAt = 0;

  function say(text) {
    if (mode && text && mode.textContent !== text) mode.textContent = text;
  }

  // --- the phone's key, kept in IndexedDB (the private key never leaves WebCrypto) ---

  function keyStore(mode, action) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open("kaikukortti-card", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("keys");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction("keys", mode);
        const request = action(tx.objectStore("keys"));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
      };
    });
  }
  const storeKey = location.pathname;
  const loadDevice = () => keyStore("readonly", (s) => s.get(storeKey));
  const saveDevice = (value) => keyStore("readwrite", (s) => s.put(value, storeKey));
  const forgetDevice = () => keyStore("readwrite", (s) => s.delete(storeKey));

  const b64 = (bytes) =>
    btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  const unb64 = (text) =>
    Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

  function expiresAt(certificate) {
    return new DataView(certificate.buffer, certificate.byteOffset).getUint32(13) * 1000;
  }

  async function call(method, body) {
    const csrf = document.querySelector('meta[name="csrf-token"]');
    const response = await fetch(card.dataset.deviceUrl, {
      method,
      cache: "no-store",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf?.content || "" },
      body: body && JSON.stringify(body),
    });
    if (response.status === 403 || response.status === 404 || response.status === 410) {
      // The card moved to another phone or is no longer in use: drop the key, show why.
      await forgetDevice();
      device = null;
      if (!sessionStorage.getItem("kk-card-reloaded")) {
        sessionStorage.setItem("kk-card-reloaded", "1");
        location.reload();
      }
      throw new Error(`device: HTTP ${response.status}`);
    }
    if (!response.ok) throw new Error(`device: HTTP ${response.status}`);
    sessionStorage.removeItem("kk-card-reloaded");
    const data = await response.json();
    data.offset = data.server_time * 1000 - Date.now();
    return data;
  }

  async function register() {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const data = await call("POST", { public_key: b64(publicKey) });
    const kept = {
      privateKey: pair.privateKey,
      certificate: unb64(data.certificate),
      serial: data.serial,
      generation: data.generation,
      offset: data.offset,
    };
    await saveDevice(kept);
    return kept;
  }

  /** The key this phone signs with: kept, or made and certified now when online. */
  async function ensureDevice() {
    let kept = (await loadDevice().catch(() => null)) || null;
    if (navigator.onLine) {
      try {
        const state = await call("GET");
        const current =
          kept &&
          kept.serial === state.serial &&
          kept.generation === state.generation &&
          // a card extended since: a new certificate would last longer
          expiresAt(kept.certificate) >= state.certificate_until * 1000;
        if (current) {
          kept.offset = state.offset;
          await saveDevice(kept);
        } else {
          kept = await register();
        }
      } catch {
        // No network now: sign with the key kept, if any; the door decides.
      }
    }
    return kept;
  }

  // --- the code ---------------------------------------------------------------------

  function svgOf(text) {
    const qr = qrcode(0, "M");
    qr.addData(text, "Byte");
    qr.make();
    const size = qr.getModuleCount();
    let path = "";
    for (let row = 0; row < size; row += 1) {
      for (let col = 0; col < size; col += 1) {
        if (qr.isDark(row, col)) path += `M${col + 4} ${row + 4}h1v1h-1z`;
      }
    }
    const box = size + 8;
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 ${box} ${box}" ` +
      `shape-rendering="crispEdges" aria-hidden="true"><rect width="${box}" height="${box}" fill="#fff"/>` +
      `<path d="${path}" fill="#000"/></svg>`
    );
  }

  async function signCode() {
    const seconds = Math.floor((Date.now() + (device.offset || 0)) / 1000);
    const time = new Uint8Array(4);
    new DataView(time.buffer).setUint32(0, seconds);
    const message = new Uint8Array(CODE_DOMAIN.length + device.certificate.length + 4);
    message.set(CODE_DOMAIN);
    message.set(device.certificate, CODE_DOMAIN.length);
    message.set(time, CODE_DOMAIN.length + device.certificate.length);
    const signature = new Uint8Array(await crypto.subtle.sign(ECDSA, device.privateKey, message));
    const code = new Uint8Array(device.certificate.length + 4 + signature.length);
    code.set(device.certificate);
    code.set(time, device.certificate.length);
    code.set(signature, device.certificate.length + 4);
    return `C.${b64(code)}`;
  }

  function hideCode() {
    live.hidden = true;
    live.replaceChildren();
    delete live.dataset.code;
    shownAt = 0;
  }

  async function show() {
    if (!live || card.dataset.status === "revoked") return;
    if (!device) {
      hideCode();
      say(mode.dataset.noKeyText);
      return;
    }
    try {
      const code = await signCode();
      live.innerHTML = svgOf(code);
      live.dataset.code = code;
      live.hidden = false;
      shownAt = Date.now();
      say(navigator.onLine ? mode.dataset.liveText : mode.dataset.offlineText);
    } catch {
      hideCode();
    }
  }

  function tick() {
    // Never leave a code on the screen past its window (a sleeping phone stops timers).
    if (shownAt && Date.now() - shownAt > maxAgeMs - 1000) hideCode();
    if (!document.hidden && (!shownAt || Date.now() - shownAt >= refreshMs)) show();
  }

  async function start() {
    device = await ensureDevice();
    await show();
    setInterval(tick, 1000);
  }

  window.addEventListener("online", async () => {
    device = (await ensureDevice()) || device;
    show();
  });
  window.addEventListener("offline", () => show());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) show();
  });
  start();

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
