// Kaikukortti card numbers in the browser: the same rules as webapp/cardnumbers.py.
// A card number is nine characters from a 31-letter alphabet without look-alikes; the
// ninth is a check character: the sum of weight (9..1) x value over all nine is 0 mod 31.
// What is printed on the card (and typed) is the printed number: the number itself for
// the first generation, else its eight data characters, the version (generation - 1 in
// base 31, no leading zero), the card's five random characters and a check character with
// the weights length..1.

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const LENGTH = 9;
const DATA = 8;
const SECRET = 5;
const MIN_VERSIONED = DATA + 1 + SECRET + 1;
const MAX_PRINTED = DATA + 7 + SECRET + 1;
const MAX_GENERATION = 999999999;

/** Upper-case the text and drop spaces, dashes, dots and similar separators. */
export function normalizeNumber(text) {
  return String(text || "")
    .toUpperCase()
    .replace(/[\s\p{Pd}\p{Cf}._/\\,:;·•‧∙]/gu, "");
}

/** The weighted sum mod 31 (weights length, length - 1, ...), or -1 for a foreign character. */
function weightedSum(chars, length) {
  let sum = 0;
  for (let i = 0; i < chars.length; i += 1) {
    const value = ALPHABET.indexOf(chars[i]);
    if (value < 0) return -1;
    sum += (length - i) * value;
  }
  return sum % ALPHABET.length;
}

/** Tell whether the text, normalized, is a card number with a correct check character. */
export function isValidNumber(text) {
  const number = normalizeNumber(text);
  return number.length === LENGTH && weightedSum(number, LENGTH) === 0;
}

/** The {number, generation, secret} of a typed printed number, or null when it is none. */
export function parsePrinted(text) {
  const typed = normalizeNumber(text);
  if (typed.length === LENGTH) {
    return isValidNumber(typed) ? { number: typed, generation: 1, secret: null } : null;
  }
  if (typed.length < MIN_VERSIONED || typed.length > MAX_PRINTED) return null;
  if (typed[DATA] === ALPHABET[0] || weightedSum(typed, typed.length) !== 0) return null;
  let value = 0;
  for (const char of typed.slice(DATA, -SECRET - 1)) value = value * ALPHABET.length + ALPHABET.indexOf(char);
  const generation = value + 1;
  if (generation > MAX_GENERATION) return null;
  const data = typed.slice(0, DATA);
  const check = ALPHABET[(ALPHABET.length - weightedSum(data, LENGTH)) % ALPHABET.length];
  return { number: data + check, generation, secret: typed.slice(-SECRET - 1, -1) };
}

/**
 * The ID printed on a card of the national register (webapp/registerids.py), normalized, or
 * null: 4 to 20 letters A-Z and digits, never shaped like a card number (9 to 21 characters
 * all of the alphabet), so that a mistyped card number is never taken for one.
 */
export function registerId(text) {
  const typed = normalizeNumber(text);
  if (!/^[A-Z0-9]{4,20}$/.test(typed)) return null;
  const numberShaped = typed.length >= LENGTH && typed.length <= MAX_PRINTED;
  return numberShaped && [...typed].every((char) => ALPHABET.includes(char)) ? null : typed;
}

/** Show the number in groups of three (K7M X4P Q2D); a lone last character joins the group before. */
export function formatNumber(text) {
  const groups = normalizeNumber(text).match(/.{1,3}/g) || [];
  if (groups.length > 1 && groups[groups.length - 1].length === 1) {
    const last = groups.pop();
    groups[groups.length - 1] += last;
  }
  return groups.join(" ");
}
