// The verdict the phone makes by itself when the server cannot be reached.
//
// It finds the card in the venue's validity list (see webapp/services/offline.py) by a
// slow salted hash (PBKDF2-SHA256, the list's salt and iterations, cut to the list's
// `hash_bytes`) of the stable number: the one a printed code carries in clear, or the one
// a typed printed number holds. Then by its generation: an older one is "replaced". A
// printed code must also match one of the card's token tags (the first `tag_bytes` of the
// SHA-256 of the code as each accepted signing key signs it), so a forged or altered code
// is refused; a typed number of a reissued card must match the card's `check` (the first
// `check_bytes` of the same slow hash of the whole printed number, its random characters
// included), and a typed number that matches is only orange ("look at the card"). A list
// older than 48 hours decides nothing ("check online"). A digital card's own code ("C.",
// signed on the holder's phone; format in webapp/tokens.py) is verified with WebCrypto:
// the issuer's signature over its certificate with a public key of the list's `issuers`,
// the phone's signature over the code, its age, then the card by the certificate's device
// serial and generation. The door holds only public keys: nothing here can sign a code.
// The older server-signed digital code ("D.") is refused: the staff types the number.
// An imported card's unsigned national register ID is not in the list: "check online".

import { normalizeNumber, parsePrinted, registerId } from "./cardnumber.js";

// A printed card's code: its stable number, generation and signature (webapp/tokens.py).
const PRINTED_TOKEN = /^([2-9A-HJKMNP-Z]{9})\.([1-9][0-9]{0,8})\.[A-Za-z0-9_-]{43}$/;
const NUMBER_HASH_BITS = 64;
export const MAX_LIST_AGE_MS = 48 * 3600 * 1000;
export const MAX_CLOCK_OFFSET_MS = 5 * 60 * 1000;
const DIGITAL_PREFIX = "D.";
const DEVICE_PREFIX = "C.";
const MAX_AGE_SECONDS = 120; // DIGITAL_TOKEN_MAX_AGE, unless the list says otherwise
const CLOCK_SKEW_SECONDS = 30; // webapp.tokens.CLOCK_SKEW, unless the list says otherwise
const CERT_DOMAIN = "kaikukortti.certificate.v1\0";
const CODE_DOMAIN = "kaikukortti.code.v1\0";
const HEAD = 17; // version 1, issuer 4, serial 4, generation 4, expires 4
const NUMBER_LENGTH = 9;
const CERT_BODY = HEAD + NUMBER_LENGTH + 33;
const CERT = CERT_BODY + 64;
const CODE = CERT + 4 + 64;
const ECDSA = { name: "ECDSA", hash: "SHA-256" };
const P256 = { name: "ECDSA", namedCurve: "P-256" };
const encoder = new TextEncoder();
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return toHex(new Uint8Array(digest));
}

/** The list's slow salted hash of a printed number (webapp.services.offline.number_hash). */
export async function numberHash(number, salt, iterations) {
  const key = await crypto.subtle.importKey("raw", encoder.encode(number), "PBKDF2", false, [
    "deriveBits",
  ]);
  const params = { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(salt), iterations };
  const bits = await crypto.subtle.deriveBits(params, key, NUMBER_HASH_BITS);
  return toHex(new Uint8Array(bits));
}

const binaryHex = (text) => toHex(Array.from(text, (c) => c.charCodeAt(0)));
const hexBinary = (hex) => hex.replace(/../g, (pair) => String.fromCharCode(parseInt(pair, 16)));
const isoDay = (day) => new Date(day * 86400000).toISOString().slice(0, 10);

/** The stored list (columns: offline-queue.js), searched by number hash and by device. */
// No index is built: the phone's native string and array search finds one card among
// 100,000 in about a millisecond, where building a Map took most of a slow phone's second.
export class OfflineList {
  constructor(stored) {
    this.stored = stored;
    this.issuers = stored.issuers || {};
    this.maxAge = stored.max_age || MAX_AGE_SECONDS;
    this.clockSkew = stored.clock_skew ?? CLOCK_SKEW_SECONDS;
    // a list of an older version has no columns: it holds no card until the next sync
    this.cards = stored.cards?.id && stored.hash_bytes ? stored.cards : null;
  }

  /** The server's clock as this phone's clock and the offset at the last sync tell it. */
  serverNow(now = Date.now()) {
    return now + (this.stored.clock_offset_ms || 0);
  }

  /** The card at position `i` of the columns, as the verdicts read it. */
  card(i) {
    const { cards, tag_bytes: width, regions } = this.stored;
    return {
      id: cards.id[i],
      tokens: cards.tags.map((tags) => binaryHex(tags.substr(i * width, width))),
      generation: cards.generation[i],
      check: cards.check ? cards.check[i] : 0,
      kind: cards.community?.[i] ? "community" : "personal",
      valid_from: isoDay(cards.valid_from[i]),
      valid_until: isoDay(cards.valid_from[i] + cards.days[i]),
      region: regions[cards.region[i]],
      children: cards.children[i],
      max_children: cards.max_children[i],
      device: cards.device[i] || null,
    };
  }

  /** The card listed under the stable number's slow hash (the first one), or undefined. */
  async cardOf(number) {
    const { salt, iterations, hash_bytes: width } = this.stored;
    if (!this.cards || !salt) return undefined;
    const hash = hexBinary((await numberHash(number, salt, iterations)).slice(0, 2 * width));
    const hashes = this.cards.hash;
    for (let at = hashes.indexOf(hash); at >= 0; at = hashes.indexOf(hash, at + 1)) {
      if (at % width === 0) return this.card(at / width);
    }
    return undefined;
  }

  /** Whether a typed number of the card's generation bears the card's random characters. */
  async bearsCheck(typed, card) {
    if (card.generation === 1) return true; // printed as its stable number
    const { salt, iterations, check_bytes: width } = this.stored;
    if (!width) return false;
    const hash = await numberHash(typed, salt, iterations);
    return parseInt(hash.slice(0, 2 * width), 16) === card.check;
  }

  /** The card whose current phone key has that serial, or undefined. */
  cardOfDevice(serial) {
    const at = this.cards && serial ? this.cards.device.indexOf(serial) : -1;
    return at < 0 ? undefined : this.card(at);
  }

  get size() {
    return this.cards ? this.cards.id.length : 0;
  }

  /** Whether the list is too old to decide from (48 hours after its download). */
  tooOld(now = Date.now()) {
    const synced = Date.parse(this.stored.synced_at);
    return !(now - synced <= MAX_LIST_AGE_MS);
  }

  /** Whether the phone's clock was more than 5 minutes off the server's at the last sync. */
  get clockOff() {
    return Math.abs(this.stored.clock_offset_ms || 0) > MAX_CLOCK_OFFSET_MS;
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
  if (list.tooOld()) return { state: "refuse", key: "offline_list_old" };
  const result = await listVerdict(scan, list, visitedToday);
  return list.clockOff ? { ...result, clockOff: true } : result;
}

async function listVerdict(scan, list, visitedToday) {
  if (scan.token) {
    const token = scan.token.trim();
    if (token.startsWith(DIGITAL_PREFIX)) return { state: "refuse", key: "offline_digital" };
    if (token.startsWith(DEVICE_PREFIX)) return deviceVerdict(token, list, visitedToday);
    if (registerId(token)) return { state: "refuse", key: "offline_unsigned" };
    const printed = PRINTED_TOKEN.exec(token);
    if (!printed) return { state: "refuse", key: "offline_unknown" };
    const [, number, generation] = printed;
    const card = await list.cardOf(number);
    if (!card) return { state: "refuse", key: "offline_unknown" };
    if (Number(generation) < card.generation) return { state: "refuse", key: "replaced", number };
    const tag = (await sha256Hex(token)).slice(0, 2 * list.stored.tag_bytes);
    if (Number(generation) > card.generation || !card.tokens.includes(tag)) {
      return { state: "refuse", key: "offline_unknown" };
    }
    return dated(card, number, visitedToday);
  }
  const number = normalizeNumber(scan.number);
  const printed = parsePrinted(number);
  if (!printed && registerId(number)) return { state: "refuse", key: "offline_unsigned" };
  if (!printed) return { state: "refuse", key: "offline_unknown" };
  const card = await list.cardOf(printed.number);
  if (!card) return { state: "refuse", key: "offline_unknown" };
  if (printed.generation < card.generation) return { state: "refuse", key: "replaced", number };
  if (printed.generation > card.generation || !(await list.bearsCheck(number, card))) {
    return { state: "refuse", key: "offline_unknown" };
  }
  const result = dated(card, number, visitedToday);
  // A typed number proves less than a signed code: the staff looks at the card itself.
  return result.state === "ok" ? { ...result, state: "warn", key: "check_card" } : result;
}

function dated(card, number, visitedToday) {
  const today = finnishToday();
  if (today > card.valid_until) return { state: "refuse", key: "expired", card, number };
  if (today < card.valid_from) return { state: "refuse", key: "not_yet_valid", card, number };
  if (visitedToday(card.id)) return { state: "warn", key: "offline_visited_today", card, number };
  return { state: "ok", key: "ok", card, number };
}

function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function modPow(base, exponent, modulus) {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}

const toBigInt = (bytes) => BigInt(`0x${toHex(bytes)}`);
const fromBigInt = (n) => Uint8Array.from(n.toString(16).padStart(64, "0").match(/../g), (h) => parseInt(h, 16));

/** The uncompressed form of a compressed P-256 point (not every WebCrypto imports one). */
function uncompress(point) {
  if (point.length !== 33 || (point[0] !== 2 && point[0] !== 3)) return null;
  const x = toBigInt(point.subarray(1));
  const rhs = (((x * x * x - 3n * x + B) % P) + P) % P;
  let y = modPow(rhs, (P + 1n) / 4n, P);
  if ((y * y) % P !== rhs) return null;
  if (Number(y & 1n) !== (point[0] & 1)) y = P - y;
  return concat(Uint8Array.of(4), fromBigInt(x), fromBigInt(y));
}

async function verifies(rawKey, signature, message) {
  try {
    const key = await crypto.subtle.importKey("raw", rawKey, P256, false, ["verify"]);
    return await crypto.subtle.verify(ECDSA, key, signature, message);
  } catch {
    return false;
  }
}

/** Verify a code the card's phone signed, then decide on its card like any other scan. */
async function deviceVerdict(token, list, visitedToday, now = list.serverNow()) {
  const invalid = { state: "refuse", key: "offline_unknown" };
  const raw = fromBase64Url(token.slice(DEVICE_PREFIX.length));
  if (!raw || raw.length !== CODE) return invalid;
  const view = new DataView(raw.buffer);
  const issuer = list.issuers[toHex(raw.subarray(1, 5))];
  const device = uncompress(raw.subarray(CERT_BODY - 33, CERT_BODY));
  if (raw[0] !== 1 || !issuer || !device) return invalid;
  const certified = await verifies(
    fromBase64Url(issuer),
    raw.subarray(CERT_BODY, CERT),
    concat(encoder.encode(CERT_DOMAIN), raw.subarray(0, CERT_BODY)),
  );
  const signed = await verifies(
    device,
    raw.subarray(CERT + 4),
    concat(encoder.encode(CODE_DOMAIN), raw.subarray(0, CERT + 4)),
  );
  if (!certified || !signed) return invalid;
  const seconds = now / 1000;
  if (seconds > view.getUint32(13)) return invalid; // the certificate has lapsed
  const age = seconds - view.getUint32(CERT);
  // Judged by the server's clock, so a wrong clock here lets no code dated ahead pass.
  if (age > list.maxAge || age < -list.clockSkew) return { state: "refuse", key: "token_expired" };
  const number = new TextDecoder().decode(raw.subarray(HEAD, HEAD + NUMBER_LENGTH));
  const card = list.cardOfDevice(view.getUint32(5));
  // A serial in no entry: the card moved to another phone, or is not accepted here.
  if (!card) return { state: "refuse", key: "offline_unknown", number };
  if (card.generation !== view.getUint32(9)) return { state: "refuse", key: "replaced", number };
  return dated(card, number, visitedToday);
}
