// Loads the native addon once, lazily. The search order is the node-gyp-build convention: a developer
// build in build/Release first, then a matching prebuild in prebuilds/<platform>-<arch>/. If nothing
// loads, native calls throw an error that says where we looked, why it failed and how to rebuild;
// `backend: 'reference'` keeps working without the addon. Never a silent fallback.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type NativeReduction = 0 | 1 | 2;
type F32 = Float32Array;

export interface NativeBinding {
  crossEntropy(
    input: F32, target: Int32Array | F32, n: number, c: number, s: number, weight: F32 | null, ignoreIndex: number,
    labelSmoothing: number, reduction: NativeReduction, gradScale: number, gradOutput: F32 | null, grad: F32, lossOut: F32 | null,
  ): number;
  crossEntropyAsync(
    input: F32, target: Int32Array | F32, n: number, c: number, s: number, weight: F32 | null, ignoreIndex: number,
    labelSmoothing: number, reduction: NativeReduction, gradScale: number, gradOutput: F32 | null, grad: F32, lossOut: F32 | null,
  ): Promise<number>;
  setNumThreads(n: number): void;
  numThreads(): number;
  hardwareThreads(): number;
  isa(): string;
  setIsa(name: string): void;
  supportedIsas(): string[];
  scaleCopy(x: F32, y: F32, a: number): void;
  readonly isaEnvError: string;
  readonly build: { compiler: string; napiVersion: number };
}

export class AddonLoadError extends Error {
  constructor(
    readonly looked: readonly string[],
    readonly reason: string,
  ) {
    super(
      `fuseloss: the native addon could not be loaded.\n` +
        `  looked for: ${looked.join(', ')}\n` +
        `  reason: ${reason}\n` +
        `  fix: rebuild it with \`npm run build:native\` (needs cmake and a C++17 compiler), ` +
        `or pass { backend: 'reference' } to use the pure-TypeScript kernels.`,
    );
    this.name = 'AddonLoadError';
  }
}

function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'fuseloss') return dir;
      } catch {
        /* not ours */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..');
    dir = up;
  }
}

function candidates(root: string): string[] {
  // An explicit path is the only place looked at: asking for one file and silently loading another
  // would hide the problem.
  if (process.env.FUSELOSS_ADDON_PATH) return [path.resolve(process.env.FUSELOSS_ADDON_PATH)];
  const out = [path.join(root, 'build', 'Release', 'fuseloss.node')];
  const pre = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuilt = fs.existsSync(pre) ? fs.readdirSync(pre).filter((f) => f.endsWith('.node')).sort() : [];
  if (prebuilt.length) for (const f of prebuilt) out.push(path.join(pre, f));
  else out.push(path.join(pre, '*.node'));
  return out;
}

let loaded: { binding?: NativeBinding; error?: AddonLoadError } | undefined;

function load(): { binding?: NativeBinding; error?: AddonLoadError } {
  const root = packageRoot();
  const looked = candidates(root);
  const reasons: string[] = [];
  for (const file of looked) {
    if (!fs.existsSync(file)) {
      reasons.push(`${file}: not found`);
      continue;
    }
    try {
      const mod = { exports: {} as NativeBinding };
      process.dlopen(mod, file);
      if (mod.exports.isaEnvError) return { error: new AddonLoadError([file], mod.exports.isaEnvError) };
      return { binding: mod.exports };
    } catch (e) {
      reasons.push(`${file}: ${(e as Error).message}`);
    }
  }
  return { error: new AddonLoadError(looked, reasons.join('; ')) };
}

/** The addon, or throws AddonLoadError explaining why it is unavailable. */
export function native(): NativeBinding {
  loaded ??= load();
  if (loaded.error) throw loaded.error;
  return loaded.binding!;
}

/** Whether the addon loaded; `nativeLoadError()` says why not. */
export function nativeAvailable(): boolean {
  loaded ??= load();
  return loaded.binding !== undefined;
}

export function nativeLoadError(): Error | undefined {
  loaded ??= load();
  return loaded.error;
}
