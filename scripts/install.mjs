// `npm install` hook, the node-gyp-build convention: use a prebuilt addon if one matches this platform
// and loads, else compile from source with cmake-js. `npm install --build-from-source` forces a compile.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const fromSource = process.env.npm_config_build_from_source === 'true' || process.argv.includes('--build-from-source');

if (!fromSource) {
  try {
    const file = require('node-gyp-build').path(root);
    process.dlopen({ exports: {} }, file);
    console.log(`fuseloss: using ${file}`);
    process.exit(0);
  } catch (e) {
    console.log(`fuseloss: no usable prebuilt addon (${String(e.message).split('\n')[0]}); compiling from source`);
  }
}
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('fuseloss: building the native addon failed (needs cmake >= 3.18 and a C++17 compiler).');
  console.error("fuseloss: the pure-TypeScript kernels still work with { backend: 'reference' }.");
}
process.exit(r.status ?? 1);
