// The 'rlw' loss-weighting strategy of MultiTaskLoss (see base.ts for the interface).
import { rangeError } from '../../core/validate';
import { Rng } from '../../core/random';
import { finiteNumber, fixed, NEEDS_NOTHING, numberArray, softmax, Strategy, type StrategyDescriptor, type WeightingConfig } from './base';

/** Lin et al. 2022: wₜ = softmax(z), z ~ N(0, I), redrawn at every endStep from a seeded generator. */
class Rlw extends Strategy {
  private rng: Rng;
  private readonly seed: number;
  private z: number[];
  constructor(tasks: readonly string[], c: WeightingConfig) {
    super('rlw', tasks);
    this.seed = c.seed === undefined ? 0 : finiteNumber(c.seed, 'weighting.seed', 0, 2 ** 32 - 1);
    if (!Number.isInteger(this.seed)) throw rangeError('an integer in [0, 2^32)', 'weighting.seed', c.seed);
    this.rng = new Rng(this.seed);
    this.z = this.draw();
  }
  private draw() {
    return this.tasks.map(() => this.rng.normal());
  }
  stepWeights() {
    return fixed(softmax(this.z));
  }
  override endStep() {
    this.z = this.draw();
  }
  params() {
    return { ...this.baseParams(), seed: this.seed, rng: [...this.rng.s], z: [...this.z] };
  }
  load(p: Record<string, unknown>) {
    this.loadBase(p);
    const s = numberArray(p.rng, 4, 'state.params.rng');
    this.rng.s = [s[0] >>> 0, s[1] >>> 0, s[2] >>> 0, s[3] >>> 0];
    this.z = numberArray(p.z, this.T, 'state.params.z');
  }
}

/** The 'rlw' strategy's registry entry. */
export const strategy: StrategyDescriptor<'rlw'> = {
  name: 'rlw',
  options: ['seed'],
  needs: NEEDS_NOTHING,
  make: (tasks, c) => new Rlw(tasks, c),
};
