// `npm run prebuild`: a Node-API prebuild of the CPU addon with prebuildify, in
// prebuilds/<platform>-<arch>/fuseloss.<libc>.napi.node (stripped). prebuildify drives node-gyp; here its
// node-gyp is scripts/prebuild-build.mjs, which builds with cmake-js instead (CUDA off: the prebuild is
// the CPU addon every machine can load) into build-prebuild/ and hands the .node over in a staging
// directory, so the developer build in build/ is left alone.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');
const staging = mkdtempSync(join(tmpdir(), 'fuseloss-prebuild-'));
writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: 'fuseloss' }));
mkdirSync(join(staging, 'build', 'Release'), { recursive: true });
const shim = join(root, 'scripts', 'prebuild-build.mjs');
chmodSync(shim, 0o755);
process.env.FUSELOSS_ROOT = root;
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
rmSync(dir, { recursive: true, force: true });
prebuildify({ cwd: staging, out: root, napi: true, strip: true, tagLibc: true, nodeGyp: shim, targets: [] }, (err) => {
  rmSync(staging, { recursive: true, force: true });
  if (err) {
    console.error(`prebuild failed: ${err.message ?? err}`);
    process.exit(1);
  }
  for (const f of readdirSync(dir))
    console.log(`prebuilds/${process.platform}-${process.arch}/${f} (${(statSync(join(dir, f)).size / 1024).toFixed(0)} KiB)`);
});
