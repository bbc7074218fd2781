// combineGradients: the task-gradient combination methods, one file per method beside this one (each
// exporting its descriptor: whether it reads the Gram matrix, keeps state, its coefficients or its own
// passes), registered below. Every pass over gradient memory runs native (one Gram pass, one combine pass);
// the T×T decisions are the methods' small solves on the Gram matrix, shared by every backend.
import { cudaNative, native } from '../../backends/binding';
import { DeviceBuffer, holding, toNativeArgs } from '../../backends/device';
import { combineReference, gramReference } from '../../backends/reference/reduce';
import { checkNotDetached, overlaps, rangeError, typeError } from '../../core/validate';
import { gradientBackend, taskGrads } from '../gradients';
import { method as alignedmtl } from './alignedmtl';
import { method as cagrad } from './cagrad';
import { method as dbmtl } from './dbmtl';
import { method as graddrop } from './graddrop';
import { method as gradvac } from './gradvac';
import { method as imtl } from './imtl';
import { method as mean } from './mean';
import { method as mgda } from './mgda';
import { method as nashmtl } from './nashmtl';
import { method as pcgrad } from './pcgrad';
import { method as sum } from './sum';
import type { CombineDescriptor, CombineOptions, CombinePlan, CombineResult, MgdaNormalization } from './types';
import { method as upgrad } from './upgrad';

export type { CombineDescriptor, CombineOptions, CombinePlan, CombineResult, CombineState, MgdaNormalization } from './types';
export { alignedCoefficients } from './alignedmtl';
export { cagradCoefficients } from './cagrad';
export { gradvacCoefficients } from './gradvac';
export { imtlCoefficients } from './imtl';
export { minNormWeights } from './linalg';
export { mgdaCoefficients } from './mgda';
export { nashCoefficients } from './nashmtl';
export { pcgradCoefficients } from './pcgrad';
export { upgradCoefficients } from './upgrad';

/** Every combine method's descriptor, in the order the docs list them. */
export const COMBINE_REGISTRY = [sum, mean, pcgrad, graddrop, mgda, cagrad, imtl, gradvac, nashmtl, upgrad, alignedmtl, dbmtl] as const;

/** A combination method's name (one of COMBINE_METHODS). */
export type CombineMethod =
  'sum' | 'mean' | 'pcgrad' | 'graddrop' | 'mgda' | 'cagrad' | 'imtl' | 'gradvac' | 'nashmtl' | 'upgrad' | 'alignedmtl' | 'dbmtl';

// The union above and the registry name the same methods (a compile error otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const namesAgree: Same<CombineMethod, (typeof COMBINE_REGISTRY)[number]['name']> = true;
void namesAgree;

/** The task-gradient combination methods of combineGradients. */
export const COMBINE_METHODS: readonly CombineMethod[] = COMBINE_REGISTRY.map((d) => d.name);

const byName = new Map<string, CombineDescriptor>(COMBINE_REGISTRY.map((d) => [d.name, d]));

/** A method's registry entry (what it reads and keeps); a TypeError naming the methods for an unknown one. */
export function combineMethod(name: unknown): CombineDescriptor {
  const d = byName.get(name as string);
  if (!d) throw typeError(COMBINE_METHODS.map((m) => `'${m}'`).join(' | '), 'combineGradients.method', name);
  return d;
}

function planCombine(grads: readonly Float32Array[], options: CombineOptions): CombinePlan {
  const g = taskGrads(grads);
  if (typeof options !== 'object' || options === null) throw typeError('{ method, … }', 'combineGradients options', options);
  const known = ['method', 'seed', 'normalization', 'losses', 'c', 'rescale', 'beta', 'betaSigma', 'state', 'out', 'backend'];
  for (const k of Object.keys(options))
    if (!known.includes(k) && (options as unknown as Record<string, unknown>)[k] !== undefined)
      throw new TypeError(`Unknown option '${k}' for combineGradients; expected ${known.join(', ')}`);
  const method = options.method;
  const descriptor = combineMethod(method);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
    throw rangeError('an integer in [0, 2^32)', 'combineGradients.seed', seed);
  const normalization = options.normalization ?? 'none';
  if (!['none', 'l2', 'loss', 'loss+'].includes(normalization))
    throw typeError("'none' | 'l2' | 'loss' | 'loss+'", 'combineGradients.normalization', normalization);
  let losses: Float64Array | undefined;
  if (method === 'mgda' && (normalization === 'loss' || normalization === 'loss+')) {
    if (
      options.losses === undefined ||
      typeof options.losses !== 'object' ||
      options.losses === null ||
      (options.losses as ArrayLike<number>).length !== g.length
    )
      throw rangeError(`${g.length} losses (one per gradient)`, 'combineGradients.losses', options.losses);
    losses = Float64Array.from(options.losses);
  }
  const c = options.c ?? 0.5;
  if (typeof c !== 'number' || !(c >= 0) || !Number.isFinite(c)) throw rangeError('a finite number >= 0', 'combineGradients.c', c);
  const rescale = options.rescale ?? 1;
  if (rescale !== 0 && rescale !== 1 && rescale !== 2) throw typeError('0 | 1 | 2', 'combineGradients.rescale', rescale);
  const n = g[0].length;
  const backend = gradientBackend('combineGradients', options.backend, [...g, options.out]);
  let out: Float32Array;
  if (options.out === undefined)
    out = g.some((x) => x instanceof DeviceBuffer) ? (DeviceBuffer.alloc(n) as unknown as Float32Array) : new Float32Array(n);
  else {
    const o = options.out as Float32Array;
    const d: unknown = options.out;
    if (!(o instanceof Float32Array) && !(d instanceof DeviceBuffer && d.dtype === 'float32'))
      throw typeError('a Float32Array', 'combineGradients.out', options.out);
    checkNotDetached(o, 'out');
    if (o.length !== n) throw rangeError(`${n} elements (the gradients' length)`, 'combineGradients.out', options.out);
    g.forEach((x, t) => {
      if (overlaps(o, x)) throw new RangeError(`combineGradients.out overlaps grads[${t}]`);
    });
    out = o;
  }
  const beta = options.beta ?? (method === 'dbmtl' ? 0.9 : 0.5);
  if (typeof beta !== 'number' || !(beta >= 0 && beta <= 1)) throw rangeError('a number in [0, 1]', 'combineGradients.beta', beta);
  const betaSigma = options.betaSigma ?? 0.5;
  if (typeof betaSigma !== 'number' || !(betaSigma >= 0) || !Number.isFinite(betaSigma))
    throw rangeError('a finite number >= 0', 'combineGradients.betaSigma', betaSigma);
  const state = options.state;
  if (descriptor.state && (typeof state !== 'object' || state === null))
    throw new TypeError(`combineGradients: '${method}' keeps state across steps; pass options.state (start with {}) and keep it`);
  return {
    g,
    method,
    seed,
    normalization: normalization as MgdaNormalization,
    losses,
    c,
    rescale: rescale as 0 | 1 | 2,
    beta,
    betaSigma,
    state: state ?? null,
    out,
    backend,
  };
}

function coefficientsFor(p: CombinePlan, d: CombineDescriptor, G: Float64Array | null): Float64Array {
  const T = p.g.length;
  if (G)
    for (let t = 0; t < T; t++)
      if (!Number.isFinite(G[t * T + t]))
        throw new RangeError(
          `combineGradients: grads[${t}] has a non-finite element (NaN or ±Infinity); '${p.method}' needs finite gradients`,
        );
  return d.coefficients!(p, G);
}

/**
 * Combines T task gradients of the same length (representation gradients or flattened parameter
 * gradients) into one: grad = Σₜ coefficientsₜ·gradsₜ for every method but graddrop (dbmtl's
 * coefficients apply to its EMA buffers). Gram-based methods read the gradients twice (Gram pass, combine
 * pass) and refuse non-finite gradients; sum, mean, graddrop and dbmtl propagate NaN like arithmetic.
 */
export function combineGradients(
  grads: readonly DeviceBuffer<'float32'>[],
  options: CombineOptions,
): CombineResult<DeviceBuffer<'float32'>>;
/** Host gradients: the combined gradient is a Float32Array (or `out`). */
export function combineGradients(grads: readonly Float32Array[], options: CombineOptions): CombineResult;
export function combineGradients(
  grads: readonly (Float32Array | DeviceBuffer<'float32'>)[],
  options: CombineOptions,
): CombineResult | CombineResult<DeviceBuffer<'float32'>> {
  return combineWithGram(grads as Float32Array[], options, null);
}

/** combineGradients with the Gram matrix already known (multiHeadBackward computes it with the heads). */
export function combineWithGram(grads: readonly Float32Array[], options: CombineOptions, gram: Float64Array | null): CombineResult {
  const p = planCombine(grads, options);
  const d = combineMethod(p.method);
  if (d.run) return d.run(p);
  const ref = p.backend === 'reference',
    cuda = p.backend === 'cuda';
  let G: Float64Array | null = null;
  if (d.gram) {
    G = gram ?? (ref ? gramReference(p.g) : new Float64Array(p.g.length ** 2));
    if (!ref && !gram) cuda ? cudaNative().gramMatrix(toNativeArgs(p.g), G) : native().gramMatrix(p.g, G);
  }
  const coef = coefficientsFor(p, d, G);
  if (ref) combineReference(p.g, coef, p.out);
  else if (cuda) cudaNative().combineGradients(toNativeArgs(p.g), coef, toNativeArgs([p.out])[0]);
  else native().combineGradients(p.g, coef, p.out);
  return { grad: p.out, coefficients: coef, gram: G };
}

/** `combineGradients` off the event loop (the passes over the gradients run on the thread pool); the same bits. */
export async function combineGradientsAsync(
  grads: readonly DeviceBuffer<'float32'>[],
  options: CombineOptions,
): Promise<CombineResult<DeviceBuffer<'float32'>>>;
/** Host gradients: the combined gradient is a Float32Array (or `out`). */
export async function combineGradientsAsync(grads: readonly Float32Array[], options: CombineOptions): Promise<CombineResult>;
export async function combineGradientsAsync(
  grads: readonly (Float32Array | DeviceBuffer<'float32'>)[],
  options: CombineOptions,
): Promise<CombineResult | CombineResult<DeviceBuffer<'float32'>>> {
  return combineGradientsAsyncWithGram(grads as Float32Array[], options, null);
}

export async function combineGradientsAsyncWithGram(
  grads: readonly Float32Array[],
  options: CombineOptions,
  gram: Float64Array | null,
): Promise<CombineResult> {
  const p = planCombine(grads, options);
  const d = combineMethod(p.method);
  if (d.runAsync) return d.runAsync(p);
  if (p.backend === 'reference') return combineWithGram(grads, options, gram);
  const cuda = p.backend === 'cuda';
  let G: Float64Array | null = null;
  if (d.gram) {
    G = gram;
    if (!G) {
      const g2 = (G = new Float64Array(p.g.length ** 2));
      await (cuda ? holding(p.g, () => cudaNative().gramMatrixAsync(toNativeArgs(p.g), g2)) : native().gramMatrixAsync(p.g, g2));
    }
  }
  const coef = coefficientsFor(p, d, G);
  if (cuda) await holding([...p.g, p.out], () => cudaNative().combineGradientsAsync(toNativeArgs(p.g), coef, toNativeArgs([p.out])[0]));
  else await native().combineGradientsAsync(p.g, coef, p.out);
  return { grad: p.out, coefficients: coef, gram: G };
}
