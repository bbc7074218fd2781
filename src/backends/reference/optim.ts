// Reference optimizer updates: torch.optim 1.13's single-tensor rules, element by element, every float32
// operation rounded with Math.fround in PyTorch's order (so the native step must match it bit for bit).

/** An optimizer's hyper-parameters as saved (every field; those a kind does not use keep their defaults). */
export interface OptimizerHyperParameters {
  /** Learning rate. */
  lr: number;
  /** SGD momentum factor. */
  momentum: number;
  /** SGD dampening. */
  dampening: number;
  /** SGD Nesterov momentum. */
  nesterov: boolean;
  /** Adam's β₁. */
  beta1: number;
  /** Adam's β₂. */
  beta2: number;
  /** Adam's ε. */
  eps: number;
  /** Weight decay (L2 for SGD and Adam, decoupled for AdamW). */
  weightDecay: number;
  /** Maximise the objective. */
  maximize: boolean;
}

/** The hyper-parameters of one step: the saved ones, the optimizer's kind and the step being taken. */
export interface OptimHyper extends OptimizerHyperParameters {
  /** The optimizer's kind. */
  kind: 'sgd' | 'adam' | 'adamw';
  /** The step being taken, from 1. */
  step: number;
}

const f = Math.fround;

export function optimizerStepReference(
  h: OptimHyper,
  p: Float32Array,
  g: Float32Array,
  m: Float32Array | null,
  v: Float32Array | null,
): void {
  const lr = f(h.lr),
    wd = f(h.weightDecay);
  if (h.kind === 'sgd') {
    const mom = f(h.momentum),
      omd = f(1 - h.dampening);
    for (let i = 0; i < p.length; i++) {
      let d = h.maximize ? -g[i] : g[i];
      if (h.weightDecay !== 0) d = f(d + f(wd * p[i]));
      if (h.momentum !== 0) {
        const buf = h.step === 1 ? d : f(f(mom * m![i]) + f(omd * d));
        m![i] = buf;
        d = h.nesterov ? f(d + f(mom * buf)) : buf;
      }
      p[i] = f(p[i] + f(-lr * d));
    }
    return;
  }
  const omb1 = f(1 - h.beta1),
    b2 = f(h.beta2),
    omb2 = f(1 - h.beta2),
    eps = f(h.eps);
  const negStep = f(-(h.lr / (1 - h.beta1 ** h.step)));
  const bc2sqrt = f(Math.sqrt(1 - h.beta2 ** h.step));
  const decay = f(1 - h.lr * h.weightDecay);
  for (let i = 0; i < p.length; i++) {
    let d = h.maximize ? -g[i] : g[i];
    let pi = p[i];
    if (h.kind === 'adamw') pi = f(pi * decay);
    else if (h.weightDecay !== 0) d = f(d + f(wd * pi));
    const mi = omb1 < 0.5 ? f(m![i] + f(omb1 * f(d - m![i]))) : f(d - f(f(d - m![i]) * f(1 - omb1)));
    const vi = f(f(v![i] * b2) + f(omb2 * f(d * d)));
    m![i] = mi;
    v![i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / bc2sqrt) + eps);
    p[i] = f(pi + f(negStep * f(mi / denom)));
  }
}
