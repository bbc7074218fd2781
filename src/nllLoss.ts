// nllLoss / nllLossAsync: PyTorch's F.nll_loss on log-probabilities, with crossEntropy's shapes and
// options (class ids only, no label smoothing).
import { native } from './binding';
import { type CrossEntropyOptions, type LossResult, nativeArgs, plan, result } from './crossEntropy';
import { nllLossSpec, type Reduction } from './ops';
import { nllLossReference } from './reference/nllLoss';
import type { FloatInput, TargetInput } from './tensor';

/** `nllLoss` options: crossEntropy's (`weight`, `ignoreIndex`, …) without label smoothing; CPU backends only. */
export interface NllLossOptions<R extends Reduction = Reduction> extends Omit<CrossEntropyOptions<R>, 'labelSmoothing' | 'backend'> {
  /** 'native' (default) or 'reference'. */
  backend?: 'native' | 'reference';
}

/** -w_y·x_y on log-probabilities `[N, C, d1…dk]` (PyTorch's F.nll_loss) and its gradient. */
export function nllLoss<R extends Reduction = 'mean'>(input: FloatInput, target: TargetInput, options?: NllLossOptions<R>): LossResult<R> {
  const p = plan(input, target, options, nllLossSpec);
  if (p.backend === 'reference') return result(p, nllLossReference(p.problem, p.grad, p.lossOut));
  return result(p, native().nllLoss(...nativeArgs(p)));
}

/** `nllLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export async function nllLossAsync<R extends Reduction = 'mean'>(
  input: FloatInput, target: TargetInput, options?: NllLossOptions<R>,
): Promise<LossResult<R>> {
  const p = plan(input, target, options, nllLossSpec);
  if (p.backend === 'reference') return result(p, nllLossReference(p.problem, p.grad, p.lossOut));
  return result(p, await native().nllLossAsync(...nativeArgs(p)));
}
