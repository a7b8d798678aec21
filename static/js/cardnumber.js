// Kaikukortti card numbers in the browser: the same rules as webapp/cardnumbers.py.
// Nine characters from a 31-letter alphabet without look-alikes; the ninth is a check
// character: the sum of weight (9..1) x value over all nine is 0 modulo 31.

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const LENGTH = 9;

/** Upper-case the text and drop spaces, dashes, dots and similar separators. */
export function normalizeNumber(text) {
  return String(text || "")
    .toUpperCase()
    .replace(/[\s\p{Pd}\p{Cf}._/\\,:;·•‧∙]/gu, "");
}

/** Tell whether the text, normalized, is a card number with a correct check character. */
export function isValidNumber(text) {
  const number = normalizeNumber(text);
  if (number.length !== LENGTH) return false;
  let sum = 0;
  for (let i = 0; i < LENGTH; i += 1) {
    const value = ALPHABET.indexOf(number[i]);
    if (value < 0) return false;
    sum += (LENGTH - i) * value;
  }
  return sum % ALPHABET.length === 0;
}

/** Show the number in groups of three: K7M X4P Q2D. */
export function formatNumber(text) {
  return normalizeNumber(text).replace(/(.{3})(?=.)/g, "$1 ");
}
