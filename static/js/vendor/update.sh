#!/usr/bin/env bash
# Reinstall the pinned front-end libraries with npm in a temporary folder and
# copy the files the browser needs into the repo (called by `make vendor`).
#
#   static/js/vendor/update.sh            # npm ci from package-lock.json
#   static/js/vendor/update.sh --relock   # after editing a version in package.json
#
# Versions live in package.json (exact pins) and package-lock.json (integrity
# hashes). Nothing is fetched at run time: the copied files are committed.

# Bash is needed; re-run under it when started as `sh update.sh`.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
axe_dir="$repo/tests/browser/vendor"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cp "$here/package.json" "$tmp/"
npm_flags=(--ignore-scripts --no-audit --no-fund --loglevel=error)
if [[ "${1:-}" == "--relock" || ! -f "$here/package-lock.json" ]]; then
    (cd "$tmp" && npm install "${npm_flags[@]}")
    cp "$tmp/package-lock.json" "$here/package-lock.json"
else
    cp "$here/package-lock.json" "$tmp/"
    (cd "$tmp" && npm ci "${npm_flags[@]}") || {
        echo "npm ci failed: if you changed package.json, run $0 --relock" >&2
        exit 1
    }
fi

nm="$tmp/node_modules"
pin() { node -p "require('$here/package.json')[process.argv[1]][process.argv[2]]" "$1" "$2"; }
installed() { node -p "require(process.argv[1] + '/package.json').version" "$1"; }
die() { echo "update.sh: $*" >&2; exit 1; }

for pkg in htmx.org barcode-detector qrcode-generator; do
    [[ "$(installed "$nm/$pkg")" == "$(pin dependencies "$pkg")" ]] || die "$pkg version mismatch"
done
[[ "$(installed "$nm/axe-core")" == "$(pin devDependencies axe-core)" ]] || die "axe-core version mismatch"
[[ "$(pin devDependencies axe-core)" == 4.* ]] || die "axe-core must stay on 4.x"
[[ "$(pin dependencies htmx.org)" == 2.0.* ]] || die "htmx.org must stay on 2.0.x"

# The wasm must be the exact zxing-wasm the polyfill was built against; npm
# nests it under barcode-detector/ when it differs from the top-level one.
bd="$nm/barcode-detector"
zx_want="$(node -p "require('$bd/package.json').dependencies['zxing-wasm']")"
zx="$bd/node_modules/zxing-wasm"
[[ -d "$zx" ]] || zx="$nm/zxing-wasm"
[[ "$(installed "$zx")" == "$zx_want" ]] || die "zxing-wasm $(installed "$zx") != $zx_want wanted by barcode-detector"
[[ "$(pin dependencies zxing-wasm)" == "$zx_want" ]] ||
    die "package.json pins zxing-wasm $(pin dependencies zxing-wasm) but barcode-detector needs $zx_want"

# htmx
cp "$nm/htmx.org/dist/htmx.min.js" "$here/htmx.min.js"
# The digital card draws its own QR codes (it signs them itself, offline too).
cp "$nm/qrcode-generator/dist/qrcode.js" "$here/qrcode-generator.js"

# barcode-detector: the "pure" ES module (no global side effects, wasm not
# inlined) plus every chunk it imports through relative paths.
rm -rf "$here/barcode-detector"
mkdir -p "$here/barcode-detector"
entry="$(node -p "require('$bd/package.json').exports['./pure'].import")"
node --input-type=module - "$bd" "$entry" "$here/barcode-detector" <<'JS'
import { readFileSync, copyFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
const [pkgDir, entry, outDir] = process.argv.slice(2);
const root = dirname(join(pkgDir, entry));
const seen = new Set();
const todo = [normalize(join(pkgDir, entry))];
while (todo.length) {
  const file = todo.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  const src = readFileSync(file, "utf8");
  // Static import/export statements (one per line in the published build)
  // and dynamic import("...") calls.
  const specs = /^\s*(?:import|export)\b[^;"']*?(?:\bfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of src.matchAll(specs)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith(".")) throw new Error(`${file}: bare import "${spec}" needs a bundler`);
    const dep = normalize(join(dirname(file), spec));
    if (relative(root, dep).startsWith("..")) throw new Error(`${file}: import outside dist: ${spec}`);
    todo.push(dep);
  }
}
for (const file of seen) {
  copyFileSync(file, join(outDir, relative(root, file)));
  console.log("copied", relative(pkgDir, file));
}
JS
cp "$zx/dist/reader/zxing_reader.wasm" "$here/zxing_reader.wasm"

# The polyfill records the version and SHA-256 of the wasm it expects.
node --input-type=module - "$here" <<'JS'
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
const here = process.argv[2];
const mod = await import(`${here}/barcode-detector/ponyfill.js`);
const sha = createHash("sha256").update(readFileSync(`${here}/zxing_reader.wasm`)).digest("hex");
if (sha !== mod.ZXING_WASM_SHA256) {
  console.error(`zxing_reader.wasm sha256 ${sha} != ${mod.ZXING_WASM_SHA256} expected by the polyfill`);
  process.exit(1);
}
console.log(`zxing_reader.wasm matches zxing-wasm ${mod.ZXING_WASM_VERSION} (sha256 ${sha})`);
JS

# Precompressed copies, served to browsers that accept gzip (webapp/assets.py):
# zopfli writes gzip about 5 % smaller than a proxy's, which matters most for the wasm.
"$repo/.venv/bin/python" - "$here" <<'PY'
import sys
from pathlib import Path

import zopfli.gzip

here = Path(sys.argv[1])
for name in ("zxing_reader.wasm", "htmx.min.js", "barcode-detector/zxing-exported.js"):
    source = here / name
    Path(f"{source}.gz").write_bytes(zopfli.gzip.compress(source.read_bytes()))
    print("precompressed", name)
PY

# Licences.
mkdir -p "$here/LICENSES"
cp "$nm/htmx.org/LICENSE" "$here/LICENSES/htmx.org.LICENSE.txt"
cp "$bd/LICENSE" "$here/LICENSES/barcode-detector.LICENSE.txt"
cp "$zx/LICENSE" "$here/LICENSES/zxing-wasm.LICENSE.txt"
# zxing_reader.wasm is compiled from zxing-cpp (Apache-2.0); the npm package
# ships no copy of that text, Debian's common-licenses does.
if [[ -f /usr/share/common-licenses/Apache-2.0 ]]; then
    cp /usr/share/common-licenses/Apache-2.0 "$here/LICENSES/zxing-cpp.Apache-2.0.txt"
elif [[ ! -f "$here/LICENSES/zxing-cpp.Apache-2.0.txt" ]]; then
    echo "warning: no Apache-2.0 text found for zxing-cpp; restore LICENSES/zxing-cpp.Apache-2.0.txt from git" >&2
fi

# axe-core: for the accessibility tests only, never served by the app.
mkdir -p "$axe_dir"
cp "$nm/axe-core/axe.min.js" "$axe_dir/axe.min.js"
cp "$nm/axe-core/LICENSE" "$axe_dir/axe-core.LICENSE.txt"
cp "$nm/axe-core/LICENSE-3RD-PARTY.txt" "$axe_dir/axe-core.LICENSE-3RD-PARTY.txt"

echo "vendored: htmx.org $(installed "$nm/htmx.org"), barcode-detector $(installed "$bd")," \
    "zxing-wasm $(installed "$zx"), axe-core $(installed "$nm/axe-core")"
