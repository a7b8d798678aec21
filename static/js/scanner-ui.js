// What the scanner shows and plays: verdict panels (from the server, or made offline from
// the page's templates), sound and vibration, the status line and the recent visits.

import { formatNumber } from "./cardnumber.js";

const MARKS = { ok: "✓", warn: "!", refuse: "✕" };
const SOUND_OF = { ok: "ok", recorded: "ok", queued: "ok", warn: "warn", refuse: "refuse" };
// The verdict tones, made with the Web Audio API (nothing to download): [hertz, seconds].
const TONES = { ok: [[1320, 0.12]], warn: [[880, 0.09], [880, 0.09]], refuse: [[220, 0.4]] };
const VIBRATION_OF = { ok: 60, recorded: 60, queued: 60, warn: [60, 80, 60], refuse: [250] };
const AUTO_CLOSE_MS = 4000;
const UNDO_MS = 10 * 60 * 1000;

function fill(text, values) {
  return String(text).replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");
}

function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

function slot(root, name) {
  return root.querySelector(`[data-slot="${name}"]`);
}

export class ScannerUI {
  constructor(config) {
    this.words = config.words;
    this.labels = config.labels;
    this.verdict = document.getElementById("verdict");
    this.announcer = document.getElementById("verdict-announcer");
    this.status = document.getElementById("scanner-status");
    this.recent = document.getElementById("recent-visits");
    this.cameraStatus = document.getElementById("camera-status");
    this.heading = document.querySelector(".scanner-heading");
    this.numberField = document.getElementById("manual-number");
    this.scanner = document.getElementById("scanner");
    this.touched = false;
    // After a verdict the next card is typed or scanned: the number field takes focus,
    // except after a finger's tap, when a phone's keyboard would cover the camera.
    document.addEventListener("pointerdown", (e) => (this.touched = e.pointerType === "touch"));
    document.addEventListener("keydown", () => (this.touched = false));
    // What the full-screen verdict covers: out of reach of keyboards and screen readers.
    this.behind = document.querySelectorAll(
      ".site-header, .site-footer, .skip-link, #scanner > :not(#verdict):not(#verdict-announcer)",
    );
    const lang = document.documentElement.lang || "fi";
    this.dates = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "Europe/Helsinki" });
    this.times = new Intl.DateTimeFormat(lang, { timeStyle: "short", timeZone: "Europe/Helsinki" });
    this.audio = null;
    this.closeTimer = null;
  }

  /** Make the tones playable: phones let a page play sound only after a tap on it. */
  unlockSounds() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!this.audio && Context) {
      this.audio = new Context();
      const show = () => (this.scanner.dataset.sound = this.audio.state);
      this.audio.addEventListener("statechange", show);
      show();
    }
    // "suspended" until a gesture, "interrupted" after a call on iOS
    if (this.audio && this.audio.state !== "running") this.audio.resume().catch(() => null);
  }

  beep(name) {
    const audio = this.audio;
    if (!audio || audio.state !== "running") return; // vibration and colour still tell
    let start = audio.currentTime;
    for (const [hertz, seconds] of TONES[name]) {
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      tone.type = name === "refuse" ? "square" : "sine";
      tone.frequency.value = hertz;
      volume.gain.setValueAtTime(0.0001, start);
      volume.gain.exponentialRampToValueAtTime(0.25, start + 0.01);
      volume.gain.exponentialRampToValueAtTime(0.0001, start + seconds);
      tone.connect(volume).connect(audio.destination);
      tone.start(start);
      tone.stop(start + seconds);
      start += seconds + 0.06;
    }
  }

  /** Put the server's fragment in the verdict slot (htmx processes its hx- attributes). */
  showHtml(html, scannedAt) {
    htmx.swap(this.verdict, html, { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 0 });
    this.present(scannedAt);
  }

  /** Show a verdict made offline: `result` from offlineVerdict(), `scan` what was read. */
  showOffline(result, scan, scannedAt) {
    const panel = cloneTemplate("offline-verdict-template");
    const words = this.words[result.key];
    const card = result.card;
    const day = result.key === "not_yet_valid" ? card?.valid_from : card?.valid_until;
    const values = { date: day ? this.formatDate(day) : "", count: card?.max_children ?? 0 };
    panel.classList.add(`verdict-${result.state}`);
    panel.dataset.state = result.state;
    panel.dataset.reason = result.key;
    slot(panel, "mark").textContent = MARKS[result.state];
    slot(panel, "title").textContent = fill(words.title, values);
    slot(panel, "staff").textContent = fill(words.staff, values);
    if (result.clockOff) {
      panel.dataset.clock = "off";
      slot(panel, "staff").textContent += ` ${this.labels.clock_off}`;
    }
    slot(panel, "holder").textContent = fill(words.holder, values);
    const accepted = result.state !== "refuse";
    if (card) {
      slot(panel, "number").textContent = formatNumber(result.number || "");
      slot(panel, "valid-until").textContent = this.formatDate(card.valid_until);
      const children = slot(panel, "max-children");
      children.textContent = card.max_children ? String(card.max_children) : children.dataset.none;
      slot(panel, "children-row").hidden = !accepted;
      slot(panel, "kind-row").hidden = card.kind !== "community";
    } else {
      slot(panel, "card").remove();
    }
    const form = slot(panel, "record");
    if (accepted) {
      slot(panel, "refused-actions").remove();
      this.setUpOfflineRecord(form, card);
      form.kaikuScan = { scan, scannedAt, card, number: result.number };
    } else {
      form.remove();
    }
    this.verdict.replaceChildren(panel);
    this.present(scannedAt);
  }

  setUpOfflineRecord(form, card) {
    const stepper = slot(form, "children-stepper");
    if (card.max_children > 0) {
      stepper.querySelector("input").max = String(card.max_children);
      return;
    }
    const none = document.createElement("input");
    none.type = "hidden";
    none.name = "children";
    none.value = "0";
    stepper.replaceWith(none);
  }

  /** Show that a visit was saved on the phone to be sent later. */
  showQueued(entry) {
    const panel = cloneTemplate("queued-template");
    slot(panel, "summary").textContent = this.summary(entry);
    panel.querySelector("[data-cancel-visit]").dataset.cancelVisit = entry.key;
    this.verdict.replaceChildren(panel);
    this.present();
  }

  showMessage(title, text) {
    const panel = cloneTemplate("message-template");
    slot(panel, "title").textContent = title;
    slot(panel, "staff").textContent = text || "";
    this.verdict.replaceChildren(panel);
    this.present();
  }

  /** Sound, vibration, focus and a spoken summary for the panel just shown. */
  present(scannedAt) {
    const panel = this.verdict.querySelector(".verdict");
    clearTimeout(this.closeTimer);
    if (panel && scannedAt) panel.dataset.scannedAt = scannedAt;
    if (!panel || panel.dataset.presented) return;
    panel.dataset.presented = "true";
    this.cover(true);
    const state = panel.dataset.state;
    this.play(state);
    const title = panel.querySelector(".verdict-title");
    const staff = panel.querySelector(".verdict-staff");
    this.announcer.textContent = [title?.textContent, staff?.textContent]
      .map((t) => (t || "").trim())
      .join(". ");
    title?.focus({ preventScroll: true });
    if (["recorded", "queued", "undone"].includes(state)) this.closeLater(panel);
    requestAnimationFrame(() =>
      setTimeout(() => {
        const detail = { state, reason: panel.dataset.reason, offline: "offline" in panel.dataset };
        document.dispatchEvent(new CustomEvent("kaikukortti:verdict", { detail }));
      }, 0),
    );
  }

  cover(open) {
    document.body.classList.toggle("verdict-open", open);
    for (const element of this.behind) element.inert = open;
  }

  play(state) {
    if (SOUND_OF[state]) this.beep(SOUND_OF[state]);
    if (navigator.vibrate && VIBRATION_OF[state]) navigator.vibrate(VIBRATION_OF[state]);
  }

  /** Fold a confirmation away after a moment, unless the staff is using its buttons. */
  closeLater(panel) {
    this.closeTimer = setTimeout(() => {
      const active = document.activeElement;
      if (panel.isConnected && !(active && active.matches("button") && panel.contains(active))) {
        this.close();
      }
    }, AUTO_CLOSE_MS);
  }

  isOpen() {
    return this.verdict.querySelector(".verdict") !== null;
  }

  close() {
    clearTimeout(this.closeTimer);
    const hadFocus = this.verdict.contains(document.activeElement);
    this.verdict.replaceChildren();
    this.cover(false);
    if (hadFocus) (this.touched ? this.heading : this.numberField).focus({ preventScroll: true });
  }

  step(button) {
    const stepper = button.closest(".stepper");
    const input = stepper.querySelector("input");
    const max = Number(input.max || 0);
    const value = Math.min(max, Math.max(0, Number(input.value || 0) + Number(button.dataset.step)));
    input.value = String(value);
    // which of the steppers changed, for a screen reader: "Assistants 1"
    const label = stepper.querySelector(".stepper-label")?.textContent || "";
    this.announcer.textContent = `${label} ${value}`.trim();
  }

  cameraMessage(key) {
    this.cameraStatus.textContent = this.labels[key];
  }

  fieldError(input, message) {
    const error = document.getElementById(`${input.id}-error`);
    error.textContent = message;
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  setStatus({ online, pending, refused, list }) {
    const l = this.labels;
    this.status.classList.toggle("is-offline", !online);
    slot(this.status, "network").textContent = online ? l.online : l.offline_status;
    const queue = slot(this.status, "queue");
    queue.hidden = !pending && !refused;
    queue.textContent = [
      pending ? fill(l.queue_count, { count: pending }) : "",
      refused ? `${l.refused_at_sync}: ${refused}` : "",
    ]
      .filter(Boolean)
      .join(" · ");
    queue.dataset.pending = String(pending);
    this.status.dataset.listSize = list ? String(list.size) : "";
    slot(this.status, "list").textContent = list
      ? fill(l.list_updated, { time: this.times.format(new Date(list.stored.synced_at)) })
      : l.no_list;
  }

  /** Show the visits this phone keeps (after a reload too), newest first. */
  showQueuedRows(visits) {
    const byTime = [...visits].sort((a, b) => Date.parse(a.scanned_at) - Date.parse(b.scanned_at));
    for (const visit of byTime) {
      if (visit.status !== "sent" || Date.parse(visit.scanned_at) + UNDO_MS > Date.now()) {
        this.queuedRow(visit);
      }
    }
  }

  queuedRow(entry) {
    let row = document.getElementById(`queued-${entry.key}`);
    if (!row) {
      row = cloneTemplate("queued-row-template");
      row.id = `queued-${entry.key}`;
      slot(row, "number").textContent = entry.display || "";
      slot(row, "summary").textContent = this.summary(entry);
      const time = slot(row, "time");
      time.dateTime = entry.scanned_at;
      time.textContent = this.times.format(new Date(entry.scanned_at));
      row.querySelector("[data-cancel-visit]").dataset.cancelVisit = entry.key;
      row.querySelector("[data-dismiss-visit]").dataset.dismissVisit = entry.key;
      row.dataset.undoUntil = new Date(Date.parse(entry.scanned_at) + UNDO_MS).toISOString();
      this.recent.prepend(row);
    }
    if (entry.status === "sent") this.rowState(entry.key, this.labels.sent, { undo: true });
    if (entry.status === "undo") this.rowState(entry.key, this.labels.undo_waiting);
    if (entry.status === "refused") {
      const text = entry.undo_refused
        ? this.undoRefusalText(entry.error)
        : this.refusalText(entry.error);
      this.refusedRow(entry.key, text);
    }
    return row;
  }

  rowState(key, text, { undo = false } = {}) {
    const row = document.getElementById(`queued-${key}`);
    if (!row) return;
    slot(row, "state").textContent = text;
    if (!undo) row.querySelector("[data-cancel-visit]")?.remove();
    row.classList.remove("is-queued");
  }

  /** A visit the server refused at sync: kept, with its reason, until the staff deals with it. */
  refusedRow(key, text) {
    const row = document.getElementById(`queued-${key}`);
    if (!row) return;
    this.rowState(key, text);
    row.classList.add("is-refused");
    row.dataset.refused = "true";
    const dismiss = row.querySelector("[data-dismiss-visit]");
    dismiss.hidden = false;
    dismiss.setAttribute("aria-label", `${this.labels.handled} ${slot(row, "number").textContent}`);
  }

  removeRow(key) {
    document.getElementById(`queued-${key}`)?.remove();
  }

  refusalText(code) {
    const words = this.words[code];
    return `${this.labels.refused_at_sync}${words ? `: ${words.title}` : ""}`;
  }

  undoRefusalText() {
    return this.labels.undo_refused;
  }

  /** Remove the undo buttons of visits older than the 10-minute undo window. */
  expireUndo(now = Date.now()) {
    for (const row of this.recent.querySelectorAll("[data-undo-until]")) {
      if (Date.parse(row.dataset.undoUntil) < now) {
        row.querySelector("form")?.remove();
        row.querySelector("[data-cancel-visit]")?.remove();
        delete row.dataset.undoUntil;
      }
    }
  }

  /** "1 adult, 2 children" for a visit, and its assistants when it had any. */
  summary({ children, assistants }) {
    const label = assistants ? this.labels.adults_children_assistants : this.labels.adults_children;
    return fill(label, { children, assistants });
  }

  formatDate(isoDay) {
    return this.dates.format(new Date(`${isoDay}T12:00:00Z`));
  }
}
