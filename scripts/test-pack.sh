#!/usr/bin/env bash
# `npm run test:pack`: what a user gets from `npm install fuseloss`. Makes the prebuild (npm run prebuild),
# packs the tarball (prints its size and checks its contents), installs it into an empty temporary
# project with --ignore-scripts and no compiler on PATH (only node), and runs a CJS and an ESM smoke
# script there that compute a loss natively (from the prebuild: no build/ directory exists) and check it
# against the pure-TS reference, then `fuseloss train` from the installed bin. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
npm run prebuild --silent
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
size=$(stat -c %s "$work/$tarball")
echo "tarball: $tarball, $((size / 1024)) KiB packed"
tar -tzf "$work/$tarball" > "$work/contents.txt"
echo "files in the tarball: $(wc -l < "$work/contents.txt")"
for must in package/package.json package/dist/cjs/index.js package/dist/esm/index.mjs package/dist/cjs/index.d.ts package/dist/esm/tfjs.mjs package/dist/cjs/tfjs.js \
            package/prebuilds/linux-x64/fuseloss.glibc.node package/models/mlp_encoder.onnx package/CMakeLists.txt package/README.md; do
  grep -qx "$must" "$work/contents.txt" || { echo "missing from the tarball: $must"; exit 1; }
done
if grep -E '^package/(test|bench|build|build-[a-z]*|node_modules|\.gpukit|scripts/(gen-|make-|test-|fuzz))' "$work/contents.txt"; then
  echo "the tarball holds files users do not need (above)"; exit 1
fi

# An empty project; PATH holds node and nothing else (no cc, c++, cmake, make).
mkdir -p "$work/app" "$work/bin"
ln -s "$(command -v node)" "$work/bin/node"
npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
[ -f "$npm_cli" ] || npm_cli="$(npm root -g)/npm/bin/npm-cli.js"
cd "$work/app"
echo '{ "name": "fuseloss-smoke", "version": "1.0.0", "private": true }' > package.json
cp "$root/.npmrc" .npmrc
PATH="$work/bin" node "$npm_cli" install "$work/$tarball" --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
for tool in cc c++ g++ gcc cmake make; do
  if PATH="$work/bin" command -v "$tool" >/dev/null; then echo "$tool is on the smoke PATH"; exit 1; fi
done
[ ! -e node_modules/fuseloss/build ] || { echo "node_modules/fuseloss/build exists: something compiled"; exit 1; }
cat > smoke.cjs <<'JS'
const fl = require('fuseloss');
if (!fl.nativeAvailable()) throw new Error(`no native addon: ${fl.nativeLoadError()}`);
const x = new Float32Array([2, 0.5, -1, 0.1, 0.2, 3]), t = new Int32Array([0, 2]);
const a = fl.crossEntropy(x, t, { shape: [2, 3] }), b = fl.crossEntropy(x, t, { shape: [2, 3], backend: 'reference' });
if (Math.abs(a.loss - b.loss) > 1e-6) throw new Error(`native ${a.loss} vs reference ${b.loss}`);
if (typeof require('fuseloss/tfjs').losses !== 'function') throw new Error('fuseloss/tfjs does not export losses');
console.log(`CJS: crossEntropy ${a.loss.toFixed(6)} natively (${fl.runtimeInfo().isa}), matches the reference; fuseloss/tfjs loads`);
JS
cat > smoke.mjs <<'JS'
import { mseLoss, runtimeInfo, nativeAvailable, MultiTaskLoss } from 'fuseloss';
import { losses, Reduction } from 'fuseloss/tfjs';
if (typeof losses !== 'function' || Reduction.MEAN !== 1) throw new Error('fuseloss/tfjs ESM entry');
if (!nativeAvailable()) throw new Error('no native addon');
const r = mseLoss(new Float32Array([1, 2, 3]), new Float32Array([1, 1, 1]), { shape: [3] });
if (Math.abs(r.loss - 5 / 3) > 1e-6) throw new Error(`mseLoss ${r.loss}`);
const mtl = new MultiTaskLoss({ tasks: { a: { loss: 'mseLoss' } } });
const m = mtl.compute({ a: { input: new Float32Array([1, 2, 3]), target: new Float32Array([1, 1, 1]), shape: [3] } });
console.log(`ESM: mseLoss ${r.loss.toFixed(6)}, MultiTaskLoss ${m.loss.toFixed(6)} natively (${runtimeInfo().isa})`);
JS
PATH="$work/bin" node smoke.cjs
PATH="$work/bin" node smoke.mjs
# The main job of a new user: the CLI from the installed package (its models/, vega-datasets, onnxruntime-node).
PATH="$work/bin" node node_modules/.bin/fuseloss train --epochs 3 --quiet --out "$work/train" | tail -2
[ -s "$work/train/training.json" ] && [ -s "$work/train/training.svg" ] && [ -s "$work/train/model.json" ] || { echo "fuseloss train wrote no log/chart/model"; exit 1; }
echo "pack smoke test passed"
