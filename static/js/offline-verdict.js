// The verdict the phone makes by itself when the server cannot be reached.
//
// It looks the scanned code up in the venue's validity list (see
// webapp/services/offline.py): a printed code by the SHA-256 of the whole signed token,
// a typed number by a short SHA-256 of the number. A forged or altered printed code
// hashes to a digest that is not in the list. A digital card's code is time-limited and
// signed with a key the phone does not hold, so it is never accepted offline: the staff
// types the number shown on the holder's phone instead.

import { normalizeNumber } from "./cardnumber.js";

const TOKEN_DIGEST_LENGTH = 16;
const NUMBER_DIGEST_LENGTH = 8;
const NUMBER_PREFIX = "kaikukortti.number.";
const DIGITAL_PREFIX = "D.";
const encoder = new TextEncoder();

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The stored list with lookups by token digest and by number digest. */
export class OfflineList {
  constructor(stored) {
    this.stored = stored;
    this.byToken = new Map();
    this.byNumber = new Map();
    for (const card of Object.values(stored.cards)) {
      this.byToken.set(card.token, card);
      if (!this.byNumber.has(card.number)) this.byNumber.set(card.number, card);
    }
  }

  get size() {
    return this.byToken.size;
  }
}

/** Today's date in Finland as YYYY-MM-DD (the dates of the list are Finnish dates). */
export function finnishToday(now = new Date()) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Europe/Helsinki",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(now);
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/**
 * Decide on `scan` ({token} or {number}) with `list` (an OfflineList or null).
 * Returns {state: "ok"|"warn"|"refuse", key, card?, number?}; `key` names the words.
 */
export async function offlineVerdict(scan, list, { visitedToday = () => false } = {}) {
  if (!list) return { state: "refuse", key: "offline_no_list" };
  let card;
  let number;
  if (scan.token) {
    const token = scan.token.trim();
    if (token.startsWith(DIGITAL_PREFIX)) return { state: "refuse", key: "offline_digital" };
    const digest = (await sha256Hex(token)).slice(0, TOKEN_DIGEST_LENGTH);
    card = list.byToken.get(digest);
    number = token.split(".")[0];
  } else {
    number = normalizeNumber(scan.number);
    const digest = (await sha256Hex(NUMBER_PREFIX + number)).slice(0, NUMBER_DIGEST_LENGTH);
    card = list.byNumber.get(digest);
  }
  if (!card) return { state: "refuse", key: "offline_unknown" };
  const today = finnishToday();
  if (today > card.valid_until) return { state: "refuse", key: "expired", card, number };
  if (today < card.valid_from) return { state: "refuse", key: "not_yet_valid", card, number };
  if (visitedToday(card.id)) return { state: "warn", key: "offline_visited_today", card, number };
  return { state: "ok", key: "ok", card, number };
}
