// The 'gradvac' combine method of combineGradients (see types.ts for the descriptor).
import { Rng } from '../../core/random';
import { at } from './linalg';
import type { CombineState } from './types';
import type { CombineDescriptor } from './types';

/**
 * GradVac (Wang et al. 2021): like PCGrad, but each gᵢ is moved towards the target similarity ρ̂ᵢⱼ (an EMA
 * of the observed cosine, rate β) whenever its cosine with gⱼ falls below it:
 * gᵢ += ‖gᵢ‖·(ρ̂·√(1−ρ²) − ρ·√(1−ρ̂²)) / (‖gⱼ‖·√(1−ρ̂²))·gⱼ; the gⱼ in a random order (a generator kept in
 * the state, first seeded from `seed`). Updates state.rho and state.rng.
 */
export function gradvacCoefficients(G: ArrayLike<number>, T: number, beta: number, seed: number, state: CombineState): Float64Array {
  if (!state.rho || state.rho.length !== T * T) state.rho = new Array<number>(T * T).fill(0);
  const rng = new Rng(seed);
  if (state.rng && state.rng.length === 4) rng.s = [state.rng[0] >>> 0, state.rng[1] >>> 0, state.rng[2] >>> 0, state.rng[3] >>> 0];
  const rho = state.rho;
  const total = new Float64Array(T);
  const norm = (t: number) => Math.sqrt(at(G, T, t, t));
  for (let i = 0; i < T; i++) {
    const c = new Float64Array(T);
    c[i] = 1;
    const order = Array.from({ length: T }, (_, k) => k).filter((k) => k !== i);
    for (let k = order.length - 1; k > 0; k--) {
      const r = rng.nextUint32() % (k + 1);
      [order[k], order[r]] = [order[r], order[k]];
    }
    for (const j of order) {
      let cGj = 0,
        cGc = 0;
      for (let a = 0; a < T; a++) {
        cGj += c[a] * at(G, T, a, j);
        for (let b = 0; b < T; b++) cGc += c[a] * at(G, T, a, b) * c[b];
      }
      const ni = Math.sqrt(cGc),
        nj = norm(j);
      const r = ni > 0 && nj > 0 ? cGj / (ni * nj) : 0;
      const target = rho[i * T + j];
      if (r < target) {
        const w =
          (ni * (target * Math.sqrt(Math.max(0, 1 - r * r)) - r * Math.sqrt(Math.max(0, 1 - target * target)))) /
          (nj * Math.sqrt(Math.max(1e-30, 1 - target * target)));
        c[j] += w;
      }
      rho[i * T + j] = (1 - beta) * target + beta * r;
    }
    for (let k = 0; k < T; k++) total[k] += c[k];
  }
  state.rng = [...rng.s];
  state.step = (state.step ?? 0) + 1;
  return total;
}

/** Wang et al. 2021: gradient vaccine, towards EMA target similarities. */
export const method: CombineDescriptor<'gradvac'> = {
  name: 'gradvac',
  gram: true,
  state: true,
  coefficients: (p, G) => gradvacCoefficients(G!, p.g.length, p.beta, p.seed, p.state!),
};
