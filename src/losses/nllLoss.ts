// nllLoss / nllLossAsync: PyTorch's F.nll_loss on log-probabilities, with crossEntropy's shapes and
// options (class ids only, no label smoothing).
import { cudaNative, native } from '../backends/binding';
import { type DeviceBuffer, holding, toNativeArgs } from '../backends/device';
import { type CrossEntropyOptions, type DeviceLossResult, type LossResult, nativeArgs, plan, result } from './crossEntropy';
import { nllLossSpec, type Reduction } from './ops';
import { nllLossReference } from '../backends/reference/nllLoss';
import type { FloatInput, TargetInput } from '../core/tensor';

/** `nllLoss` options: crossEntropy's (`weight`, `ignoreIndex`, …, `backend`) without label smoothing. */
export type NllLossOptions<R extends Reduction = Reduction> = Omit<CrossEntropyOptions<R>, 'labelSmoothing'>;

/** On the GPU: log-probabilities in a DeviceBuffer; the gradient (and 'none' losses) stay on the GPU. */
export function nllLoss<R extends Reduction = 'mean'>(
  input: DeviceBuffer<'float32'>,
  target: DeviceBuffer<'int32'> | Int32Array,
  options: NllLossOptions<R>,
): DeviceLossResult<R>;
/** -w_y·x_y on log-probabilities `[N, C, d1…dk]` (PyTorch's F.nll_loss) and its gradient. */
export function nllLoss<R extends Reduction = 'mean'>(
  input: FloatInput,
  target: TargetInput | DeviceBuffer<'int32'>,
  options?: NllLossOptions<R>,
): LossResult<R>;
export function nllLoss<R extends Reduction = 'mean'>(
  input: FloatInput | DeviceBuffer<'float32'>,
  target: TargetInput | DeviceBuffer<'int32'>,
  options?: NllLossOptions<R>,
): LossResult<R> | DeviceLossResult<R> {
  const p = plan(input as FloatInput, target as TargetInput, options, nllLossSpec);
  if (p.backend === 'reference') return result(p, nllLossReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') return result(p, cudaNative().nllLoss(...toNativeArgs(nativeArgs(p))));
  return result(p, native().nllLoss(...nativeArgs(p)));
}

/** On the GPU, off the event loop: log-probabilities in a DeviceBuffer; the gradient stays on the GPU. */
export async function nllLossAsync<R extends Reduction = 'mean'>(
  input: DeviceBuffer<'float32'>,
  target: DeviceBuffer<'int32'> | Int32Array,
  options: NllLossOptions<R>,
): Promise<DeviceLossResult<R>>;
/** `nllLoss` off the event loop (the kernel runs on the thread pool); resolves to the same result, bit for bit. */
export async function nllLossAsync<R extends Reduction = 'mean'>(
  input: FloatInput,
  target: TargetInput | DeviceBuffer<'int32'>,
  options?: NllLossOptions<R>,
): Promise<LossResult<R>>;
export async function nllLossAsync<R extends Reduction = 'mean'>(
  input: FloatInput | DeviceBuffer<'float32'>,
  target: TargetInput | DeviceBuffer<'int32'>,
  options?: NllLossOptions<R>,
): Promise<LossResult<R> | DeviceLossResult<R>> {
  const p = plan(input as FloatInput, target as TargetInput, options, nllLossSpec);
  if (p.backend === 'reference') return result(p, nllLossReference(p.problem, p.grad, p.lossOut));
  if (p.backend === 'cuda') {
    const args = nativeArgs(p);
    return result(p, await holding(args, () => cudaNative().nllLossAsync(...toNativeArgs(args))));
  }
  return result(p, await native().nllLossAsync(...nativeArgs(p)));
}
