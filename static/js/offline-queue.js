// The scanner's offline store, shared by the page and the service worker (importScripts):
//
//   KaikuOffline.configure({urls: {session, sync, offlineList}})
//   KaikuOffline.enqueue(visit)      keep a visit recorded offline (IndexedDB "queue")
//   KaikuOffline.remember(visit)     keep a visit recorded online, for its undo after a reload
//   KaikuOffline.cancel(key)         undo a visit, wherever its record got to
//   KaikuOffline.dismiss(key)        the staff has dealt with a visit refused at sync
//   KaikuOffline.flush()             send the waiting visits and undos, each exactly once
//   KaikuOffline.syncList(venue)     download the venue's validity list, or its changes
//
// A visit keeps its idempotency key, scan time and recorder (the signed id of the staff
// member who recorded it, so the next shift's session delivers it as theirs) until the
// server has answered for it, so it survives a closed page and a restarted phone, and a
// retry after a lost answer is recognised by the server instead of counted twice.
// Statuses: "pending" (to send), "sent" (stored; kept for the 10 minutes of its undo),
// "undo" (an undo to send), "refused" (kept and shown until the staff dismisses it).
// A Web Lock keeps the page and the service worker from sending at the same time.
(function (scope) {
  "use strict";

  const DB_NAME = "kaikukortti";
  const QUEUE = "queue";
  const LISTS = "lists";
  const SYNC_TAG = "kaikukortti-visits";
  const LOCK = "kaikukortti-queue";
  const UNDO_MS = 10 * 60 * 1000;
  let urls = {};
  let dbPromise = null;

  function configure(options) {
    urls = { ...urls, ...(options.urls || {}) };
  }

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => {
          const db = request.result;
          if (!db.objectStoreNames.contains(QUEUE)) db.createObjectStore(QUEUE, { keyPath: "key" });
          if (!db.objectStoreNames.contains(LISTS)) db.createObjectStore(LISTS, { keyPath: "venue" });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => {
          dbPromise = null;
          reject(request.error);
        };
      });
    }
    return dbPromise;
  }

  /** Run `work(store)` in a transaction; resolve with its request's result once committed. */
  async function inStore(name, mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const request = work(tx.objectStore(name));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  function withLock(work) {
    const locks = scope.navigator && scope.navigator.locks;
    return locks ? locks.request(LOCK, work) : work();
  }

  function notify(detail) {
    if (typeof BroadcastChannel === "undefined") return;
    const channel = new BroadcastChannel(DB_NAME);
    channel.postMessage(detail);
    channel.close();
  }

  async function visits() {
    return (await inStore(QUEUE, "readonly", (store) => store.getAll())) || [];
  }

  async function enqueue(visit) {
    const entry = { ...visit, status: "pending", queued_at: new Date().toISOString() };
    await inStore(QUEUE, "readwrite", (store) => store.put(entry));
    notify({ type: "queued", key: entry.key });
    requestBackgroundSync();
    return entry;
  }

  /** Keep a visit the server stored while online, so that its undo survives a reload. */
  async function remember(visit) {
    const entry = { ...visit, status: "sent", queued_at: new Date().toISOString() };
    await inStore(QUEUE, "readwrite", (store) => store.put(entry));
    return entry;
  }

  /**
   * Undo a visit: "removed" when it never left the phone, "queued" when the server may
   * hold it (sent, or its online record timed out): the undo is then sent by its key.
   * False when there is nothing to undo.
   */
  function cancel(key) {
    return withLock(async () => {
      const entry = await inStore(QUEUE, "readonly", (store) => store.get(key));
      if (!entry || !["pending", "sent"].includes(entry.status)) return false;
      if (entry.status === "pending" && !entry.maybe_sent) {
        await inStore(QUEUE, "readwrite", (store) => store.delete(key));
        notify({ type: "cancelled", key });
        return "removed";
      }
      await inStore(QUEUE, "readwrite", (store) => store.put({ ...entry, status: "undo" }));
      notify({ type: "undo-queued", key });
      requestBackgroundSync();
      return "queued";
    });
  }

  /** Forget a visit refused at sync, once the staff has dealt with it. */
  function dismiss(key) {
    return withLock(async () => {
      const entry = await inStore(QUEUE, "readonly", (store) => store.get(key));
      if (!entry || entry.status !== "refused") return false;
      await inStore(QUEUE, "readwrite", (store) => store.delete(key));
      notify({ type: "dismissed", key });
      return true;
    });
  }

  function requestBackgroundSync() {
    const sw = scope.navigator && scope.navigator.serviceWorker;
    if (!sw || !sw.controller) return;
    sw.ready.then((reg) => reg.sync && reg.sync.register(SYNC_TAG)).catch(() => null);
  }

  async function freshCsrfToken() {
    const response = await fetch(urls.session, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) return null; // signed out: keep the visits until someone signs in
    return (await response.json()).csrf_token;
  }

  function payload(visit) {
    return {
      idempotency_key: visit.key,
      venue: visit.venue,
      event: visit.event,
      token: visit.token || null,
      number: visit.token ? null : visit.number,
      children: visit.children,
      assistants: visit.assistants || 0, // a visit an older page queued has none
      scanned_at: visit.scanned_at,
      recorder: visit.recorder || null,
    };
  }

  /** Send the waiting visits and undos in order; stop at the first network or server failure. */
  function flush() {
    return withLock(async () => {
      const all = await visits();
      await dropPastUndo(all);
      const waiting = all.filter((v) => v.status === "pending" || v.status === "undo");
      const result = { sent: 0, refused: 0, left: waiting.length };
      if (!waiting.length) return result;
      const csrf = await freshCsrfToken();
      if (!csrf) return result;
      for (const visit of waiting) {
        if (visit.status === "undo") {
          const done = await sendUndo(visit, csrf);
          if (done === null) break;
          result.left -= 1;
          continue;
        }
        const answer = await send(visit, csrf);
        if (answer === null) break;
        if (answer.ok) {
          const sent = { ...visit, status: "sent", visit_id: answer.body.id, maybe_sent: false };
          await inStore(QUEUE, "readwrite", (store) => store.put(sent));
          notify({ type: "sent", key: visit.key, visit: answer.body });
          result.sent += 1;
        } else {
          const refused = { ...visit, status: "refused", error: answer.error };
          await inStore(QUEUE, "readwrite", (store) => store.put(refused));
          notify({ type: "refused", key: visit.key, error: answer.error });
          result.refused += 1;
        }
        result.left -= 1;
      }
      return result;
    });
  }

  /** POST one visit: {ok, body} when stored, {ok: false, error} when refused, null to retry. */
  async function send(visit, csrf) {
    let response;
    try {
      response = await fetch(urls.sync, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(payload(visit)),
      });
    } catch {
      return null; // no network
    }
    const json = (response.headers.get("Content-Type") || "").includes("application/json");
    if (response.ok && json) return { ok: true, body: await response.json() };
    // The server's own refusals are final (and shown until dismissed); anything else
    // (5xx, a transient conflict, an expired session, a stale CSRF token) is retried later.
    if (json && [400, 403, 422].includes(response.status)) {
      const error = (await response.json()).error;
      return error === "conflict" ? null : { ok: false, error };
    }
    return null;
  }

  /**
   * POST an undo by the visit's key, with the visit itself when the phone still has it (the
   * server then stores it as undone if the undo overtook it): true when answered, null to
   * retry. Only the server's 204 is "undone"; any refusal (a 404 too) stays shown.
   */
  async function sendUndo(visit, csrf) {
    const unsent = visit.token || visit.number;
    const body = unsent ? payload(visit) : { idempotency_key: visit.key, scanned_at: visit.scanned_at };
    let response;
    try {
      response = await fetch(urls.undo, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ ...body, venue: visit.venue, recorder: visit.recorder || null }),
      });
    } catch {
      return null;
    }
    if (response.status === 204) {
      await inStore(QUEUE, "readwrite", (store) => store.delete(visit.key));
      notify({ type: "undone", key: visit.key });
      return true;
    }
    const json = (response.headers.get("Content-Type") || "").includes("application/json");
    if (json && [403, 404, 422].includes(response.status)) {
      const error = (await response.json()).error;
      const kept = { ...visit, status: "refused", error, undo_refused: true };
      await inStore(QUEUE, "readwrite", (store) => store.put(kept));
      notify({ type: "undo-refused", key: visit.key, error });
      return true;
    }
    return null;
  }

  /** Forget the visits the server stored whose 10 minutes of undo have passed. */
  async function dropPastUndo(all) {
    const limit = Date.now() - UNDO_MS;
    for (const visit of all) {
      if (visit.status === "sent" && Date.parse(visit.scanned_at) < limit) {
        await inStore(QUEUE, "readwrite", (store) => store.delete(visit.key));
      }
    }
  }

  function getList(venue) {
    return inStore(LISTS, "readonly", (store) => store.get(venue));
  }

  // Stored as the server sends them, one array a field, which IndexedDB reads back in
  // milliseconds where 100,000 objects took seconds on a slow phone.
  const COLUMNS = ["generation", "check", "community", "days", "children", "max_children", "device"];

  /** The update's cards as stored: absolute ids and first days, hashes and tags as binary
   * strings, regions as indexes into `regions` (extended with the update's new codes). */
  function received(update, regions) {
    const columns = update.cards;
    const index = update.regions.map((code) => {
      const at = regions.indexOf(code);
      return at < 0 ? regions.push(code) - 1 : at;
    });
    let id = 0;
    let from = 0;
    return {
      id: columns.id.map((difference) => (id += difference)),
      valid_from: columns.valid_from.map((difference) => (from += difference)),
      region: columns.region.map((at) => index[at]),
      hash: atob(columns.hash),
      tags: columns.tags.map((packed) => atob(packed)),
      ...Object.fromEntries(COLUMNS.map((name) => [name, columns[name]])),
    };
  }

  /** The stored cards less the removed and the changed ones, plus the changed, by id. */
  function merged(cards, changed, removed, hashBytes, tagBytes) {
    const replaced = new Set([...removed, ...changed.id]);
    const rows = [];
    cards.id.forEach((id, i) => replaced.has(id) || rows.push([cards, i]));
    changed.id.forEach((_, i) => rows.push([changed, i]));
    rows.sort(([a, i], [b, j]) => a.id[i] - b.id[j]);
    const pick = (name) => rows.map(([source, i]) => source[name]?.[i] ?? 0); // 0: a column an older list lacks
    const bytes = (packed, width) =>
      rows.map(([source, i]) => packed(source).substr(i * width, width)).join("");
    return {
      id: pick("id"),
      valid_from: pick("valid_from"),
      region: pick("region"),
      hash: bytes((source) => source.hash, hashBytes),
      tags: cards.tags.map((_, key) => bytes((source) => source.tags[key], tagBytes)),
      ...Object.fromEntries(COLUMNS.map((name) => [name, pick(name)])),
    };
  }

  /** Fetch the venue's list (only the changes when one is stored) and store it. */
  // A delta whose result does not hold the server's count, or whose hashes are of another
  // salt or cut to another width, or tags made with other keys (a compromised one removed),
  // or that the venue's changed rules made (children at a course), is replaced by the whole list.
  async function syncList(venue, whole = false) {
    const stored = whole ? null : await getList(venue);
    const query = new URLSearchParams({ venue });
    if (stored) query.set("since", stored.generated_at);
    const asked = Date.now();
    const response = await fetch(`${urls.offlineList}?${query}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) throw new Error(`offline list: HTTP ${response.status}`);
    const update = await response.json();
    const received_at = Date.now();
    const merging = !update.full && stored;
    if (
      merging &&
      (stored.salt !== update.salt ||
        stored.iterations !== update.iterations ||
        stored.hash_bytes !== update.hash_bytes ||
        stored.tag_bytes !== update.tag_bytes ||
        stored.check_bytes !== update.check_bytes ||
        String(stored.keys) !== String(update.keys) ||
        stored.venue_rules !== update.venue_rules)
    ) {
      return syncList(venue, true);
    }
    const regions = merging ? [...stored.regions] : [];
    const changed = received(update, regions);
    const cards = merging
      ? merged(stored.cards, changed, update.removed, update.hash_bytes, update.tag_bytes)
      : changed;
    if (!update.full && cards.id.length !== update.count) return syncList(venue, true);
    const list = {
      venue,
      generated_at: update.generated_at,
      valid_on: update.valid_on,
      synced_at: new Date(received_at).toISOString(),
      // how far the server's clock was ahead of this phone's (the request's midpoint)
      clock_offset_ms: Date.parse(update.generated_at) - (asked + received_at) / 2,
      salt: update.salt,
      iterations: update.iterations,
      hash_bytes: update.hash_bytes,
      tag_bytes: update.tag_bytes,
      check_bytes: update.check_bytes,
      keys: update.keys,
      venue_rules: update.venue_rules,
      issuers: update.issuers,
      max_age: update.max_age,
      clock_skew: update.clock_skew,
      regions,
      cards,
    };
    await inStore(LISTS, "readwrite", (store) => store.put(list));
    return list;
  }

  scope.KaikuOffline = {
    SYNC_TAG,
    configure,
    enqueue,
    remember,
    cancel,
    dismiss,
    visits,
    flush,
    getList,
    syncList,
    requestBackgroundSync,
  };
})(self);
