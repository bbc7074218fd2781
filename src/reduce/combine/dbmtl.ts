// The 'dbmtl' combine method of combineGradients (see types.ts for the descriptor).
import { cudaNative, native } from '../../backends/binding';
import { DeviceBuffer, toNativeArgs } from '../../backends/device';
import { combineReference, totalNormReference } from '../../backends/reference/reduce';
import type { CombineDescriptor, CombinePlan, CombineResult } from './types';

/**
 * DB-MTL's gradient-magnitude balancing (Lin et al. 2023, LibMTL's defaults β = 0.9, σ = 0.5): with the
 * gradients of the log losses gₜ (what MultiTaskLoss's 'dbmtl' strategy produces), the EMA
 * bufₜ ← (1 − β/stepᵠ)·gₜ + (β/stepᵠ)·bufₜ, then every buffer is scaled to the largest norm:
 * grad = Σₜ (max‖buf‖/(‖bufₜ‖ + 1e-8))·bufₜ. Coefficients are those of the buffers.
 */
function dbmtl(p: CombinePlan): CombineResult {
  const st = p.state!;
  const T = p.g.length,
    n = p.g[0].length;
  const cuda = p.backend === 'cuda';
  // buffers live where the work does: on the GPU for backend 'cuda'
  const where = (a: Float32Array[] | undefined) => !a || a.some((b) => b instanceof DeviceBuffer !== cuda);
  const fresh = (a: Float32Array[] | undefined) => where(a) || a!.length !== T || a!.some((b) => b.length !== n);
  const make = () => p.g.map(() => (cuda ? (DeviceBuffer.alloc(n) as unknown as Float32Array) : new Float32Array(n)));
  if (fresh(st.buffers)) ((st.buffers = make()), (st.step = 0));
  const step = (st.step ?? 0) + 1; // counted once the buffers are updated (a refused call leaves it)
  const c = p.beta / step ** p.betaSigma;
  const buffers = st.buffers!;
  let norms: ArrayLike<number>;
  if (p.backend === 'native') {
    // one native pass: each buffer updated in place and its norm taken while its blocks are in cache
    const out = new Float64Array(T);
    native().emaUpdate(buffers, p.g, c, out);
    norms = out;
  } else {
    const mix = Float64Array.from([1 - c, c]);
    if (cuda) {
      // the GPU's combine pass writes to a distinct array: the update goes through scratch buffers
      if (fresh(st.scratch)) st.scratch = make();
      for (let t = 0; t < T; t++) {
        const out = st.scratch![t];
        cudaNative().combineGradients(toNativeArgs([p.g[t], buffers[t]]), mix, toNativeArgs([out])[0]);
        [buffers[t], st.scratch![t]] = [out, buffers[t]];
      }
      norms = buffers.map((b) => cudaNative().totalNorm(toNativeArgs([b]), 2));
    } else {
      for (let t = 0; t < T; t++) combineReference([p.g[t], buffers[t]], mix, buffers[t]); // element by element: in place
      norms = buffers.map((b) => totalNormReference([b], 2));
    }
  }
  st.step = step;
  const top = Math.max(...Array.from(norms));
  const coef = Float64Array.from(norms, (u) => top / (u + 1e-8));
  if (p.backend === 'reference') combineReference(buffers, coef, p.out);
  else if (cuda) cudaNative().combineGradients(toNativeArgs(buffers), coef, toNativeArgs([p.out])[0]);
  else native().combineGradients(buffers, coef, p.out);
  return { grad: p.out, coefficients: coef, gram: null };
}

/** DB-MTL's gradient-magnitude balancing over EMA buffers kept in options.state (its own passes). */
export const method: CombineDescriptor<'dbmtl'> = {
  name: 'dbmtl',
  gram: false,
  state: true,
  run: dbmtl,
  runAsync: async (p) => dbmtl(p),
};
