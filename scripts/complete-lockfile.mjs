// The npm registry reachable from our machines serves only the linux-x64 builds of packages that ship
// per-platform optional dependencies (rollup, esbuild, ...). npm then leaves the other platforms out of
// package-lock.json, and `npm ci` rejects the lockfile as out of sync ("Missing: @rollup/rollup-android-…
// from lock file"). This adds those entries back as optional packages (never fetched on linux-x64).
// Run it after any `npm install` that rewrites package-lock.json: `node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${key ? `${key}/` : ''}node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue;
    lock.packages[`node_modules/${name}`] = { version, dev: entry.dev, optional: true };
    added++;
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: added ${added} optional platform entries`);
