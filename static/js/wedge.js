// A USB barcode reader types the code it reads as keystrokes a few milliseconds apart,
// ending in Enter; even a fast typist is more than 60 ms apart. Told apart by that rhythm, a
// reader's code is a scan wherever focus is, even in the number field (whose typed
// characters are then taken back), while a person's typing stays typing.

const MAX_MEAN_GAP_MS = 50; // a reader on a busy phone can deliver keys late
// A pause this long starts a new run of keys. Longer than any hiccup inside a reader's
// code (a busy phone or computer can deliver a few of its keys late), shorter than
// the time it takes to pick up the reader after typing.
const PAUSE_MS = 500;
const MIN_LENGTH = 6;
const US_MINUS_KEY = { "+": "-", "?": "_" };

/** Call onCode(text) for every code a reader types, in place of the Enter that ends it. */
export function listenForReader(onCode) {
  let run = [];
  let field = null; // the field the run was typed into, and its value before
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.isComposing || event.ctrlKey || event.altKey || event.metaKey) {
        run = [];
        return;
      }
      const at = event.timeStamp;
      if (run.length && at - run[run.length - 1].at > PAUSE_MS) run = [];
      if (event.key === "Enter") {
        const keys = run;
        run = [];
        if (keys.length < MIN_LENGTH || (at - keys[0].at) / keys.length > MAX_MEAN_GAP_MS) return;
        event.preventDefault(); // no form is sent, no button pressed
        if (field) field.element.value = field.value;
        onCode(keys.map((k) => k.key).join(""));
        return;
      }
      if (event.key.length !== 1) return; // Shift and other keys that type nothing
      // A reader left at its factory US layout, on a Finnish or Swedish keyboard, types the
      // "+" and "?" of the key beside 0 where the code has "-" and "_" (no code has + or ?).
      const key = (event.code === "Minus" && US_MINUS_KEY[event.key]) || event.key;
      if (!run.length) {
        const element = event.target;
        field = "value" in element ? { element, value: element.value } : null;
      }
      run.push({ key, at });
    },
    { capture: true },
  );
}
