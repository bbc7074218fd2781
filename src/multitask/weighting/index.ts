// The registry of MultiTaskLoss's loss-weighting strategies: one file per strategy beside this one, each
// exporting its descriptor (name, options, needs, factory). Adding a strategy is its file, its line in the
// registry and its name in StrategyName (checked at compile time), and its test; MultiTaskLoss, the trainer,
// the CLI and the registry test read the registry.
import { typeError } from '../../core/validate';
import type { Strategy, StrategyDescriptor, StrategyNeeds, UncertaintyForm, WeightingConfig } from './base';
import { strategy as dbmtl } from './dbmtl';
import { strategy as dwa } from './dwa';
import { strategy as equal } from './equal';
import { strategy as famo } from './famo';
import { strategy as gls } from './gls';
import { strategy as gradnorm } from './gradnorm';
import { strategy as rlw } from './rlw';
import { strategy as staticWeights } from './static';
import { strategy as uncertainty } from './uncertainty';

export type { EndStepInfo, StepWeights, Strategy, StrategyDescriptor, StrategyNeeds, UncertaintyForm, WeightingConfig } from './base';
export { perTask } from './base';

/** Every strategy's descriptor, in the order the docs list them. */
export const STRATEGY_REGISTRY = [equal, staticWeights, uncertainty, dwa, rlw, gls, gradnorm, famo, dbmtl] as const;

/** A weighting strategy's name (one of STRATEGIES). */
export type StrategyName = 'equal' | 'static' | 'uncertainty' | 'dwa' | 'rlw' | 'gls' | 'gradnorm' | 'famo' | 'dbmtl';

// The union above and the registry name the same strategies (a compile error otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const namesAgree: Same<StrategyName, (typeof STRATEGY_REGISTRY)[number]['name']> = true;
void namesAgree;

/** The weighting strategies of MultiTaskLoss. */
export const STRATEGIES: readonly StrategyName[] = STRATEGY_REGISTRY.map((d) => d.name);

const byName = new Map<string, StrategyDescriptor>(STRATEGY_REGISTRY.map((d) => [d.name, d]));

/** What a strategy needs from the training loop. */
export function strategyNeeds(name: StrategyName): StrategyNeeds {
  return byName.get(name)!.needs;
}

export function makeStrategy(config: unknown, tasks: readonly string[], forms: readonly UncertaintyForm[]): Strategy {
  const c = (config ?? { strategy: 'equal' }) as WeightingConfig;
  if (typeof c !== 'object' || c === null) throw typeError('{ strategy, … }', 'weighting', config);
  const d = byName.get(c.strategy as string);
  if (!d) throw typeError(STRATEGIES.map((s) => `'${s}'`).join(' | '), 'weighting.strategy', c.strategy);
  for (const k of Object.keys(c))
    if (k !== 'strategy' && !d.options.includes(k) && (c as unknown as Record<string, unknown>)[k] !== undefined)
      throw new TypeError(
        `Unknown option '${k}' for the '${c.strategy}' strategy; expected ${d.options.length ? d.options.join(', ') : 'none'}`,
      );
  return d.make(tasks, c, forms);
}
