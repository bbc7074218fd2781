#!/usr/bin/env node
// node-gyp's stand-in for scripts/prebuild.mjs (prebuildify calls it as `node-gyp rebuild …`): compiles
// the CPU addon with cmake-js into build-prebuild/ and copies it to the build/Release/ of the directory
// prebuildify runs in. The node-gyp arguments (target, devdir) do not apply: the addon targets Node-API 8
// through the node-api-headers package.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = process.env.FUSELOSS_ROOT;
if (!root) throw new Error('prebuild-build.mjs: run it through scripts/prebuild.mjs (FUSELOSS_ROOT unset)');
const require = createRequire(join(root, 'package.json'));
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build-prebuild', '--CDFUSELOSS_CUDA=OFF'], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);
mkdirSync(join(process.cwd(), 'build', 'Release'), { recursive: true });
copyFileSync(join(root, 'build-prebuild', 'Release', 'fuseloss.node'), join(process.cwd(), 'build', 'Release', 'fuseloss.node'));
