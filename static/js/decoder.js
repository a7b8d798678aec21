// QR code and Code 39 detector for the door scanner (Code 39: the barcode of the cards of
// the national register, see webapp/registerids.py).
//
//   import { createDetector } from "/static/js/decoder.js";
//   const detector = await createDetector();
//   const codes = await detector.detect(videoElement);  // [{rawValue, format, ...}]
//
// Uses the browser's own BarcodeDetector when it exists and reads both formats
// (Chrome on Android, macOS). Otherwise (Chromium on Linux, Firefox, Safari on
// iPhone) it loads the self-hosted `barcode-detector` ponyfill, whose ZXing
// WebAssembly build is served from static/js/vendor/zxing_reader.wasm: never
// from a CDN. See static/js/vendor/README.md for the pinned versions.

/** URL of the self-hosted wasm, resolved next to this module (/static/js/vendor/). */
const WASM_URL = new URL("./vendor/zxing_reader.wasm", import.meta.url).href;

// One object, so that repeated calls see equal overrides and reuse the
// already-instantiated module instead of compiling the wasm again.
const ZXING_OVERRIDES = {
  locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path),
};

const FORMATS = ["qr_code", "code_39"];

async function nativeDetector() {
  const Native = globalThis.BarcodeDetector;
  if (typeof Native !== "function") return null;
  try {
    const supported = await Native.getSupportedFormats();
    const all = FORMATS.every((format) => supported.includes(format));
    return all ? new Native({ formats: FORMATS }) : null; // else the ponyfill reads both
  } catch {
    return null; // e.g. Android without the detection service
  }
}

/**
 * Resolve to an object with `detect(source)` → Promise<DetectedBarcode[]> for
 * QR codes and Code 39 barcodes; `source` is a video, image, canvas, ImageBitmap, ImageData or Blob.
 * With the polyfill, the wasm is fetched and compiled before this resolves, so
 * a failure to load it rejects here rather than on the first frame.
 */
export async function createDetector() {
  const native = await nativeDetector();
  if (native) return native;

  const { BarcodeDetector, prepareZXingModule, purgeZXingModule } = await import(
    "./vendor/barcode-detector/ponyfill.js"
  );
  try {
    // Must run before `new BarcodeDetector()`, which would otherwise start
    // loading the wasm from the polyfill's default CDN location.
    await prepareZXingModule({ overrides: ZXING_OVERRIDES, fireImmediately: true });
  } catch (error) {
    purgeZXingModule(); // forget the failed attempt so a later call can retry
    throw error;
  }
  const detector = new BarcodeDetector({ formats: FORMATS });
  // The polyfill draws each video frame on a canvas it makes anew: one kept for reading
  // costs a slow phone less. Other sources go to the polyfill as they are.
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return {
    detect(source) {
      if (!(source instanceof HTMLVideoElement)) return detector.detect(source);
      if (canvas.width !== source.videoWidth) canvas.width = source.videoWidth;
      if (canvas.height !== source.videoHeight) canvas.height = source.videoHeight;
      context.drawImage(source, 0, 0);
      return detector.detect(canvas);
    },
  };
}
