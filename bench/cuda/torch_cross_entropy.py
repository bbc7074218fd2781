"""PyTorch peer of bench/cuda/cross_entropy_kernel_bench.cu: F.cross_entropy forward + backward on the GPU,
timed with CUDA events on data resident on the device. One JSON object per line."""
import json

import torch
import torch.nn.functional as F

for n, c in [(8192, 32000), (65536, 1000), (4096, 1000), (256, 32000), (65536, 10)]:
    x = (torch.rand(n, c, device='cuda') * 8 - 4).requires_grad_(True)
    t = torch.randint(0, c, (n,), device='cuda')
    reps = 20 if n * c > 100_000_000 else 50

    def step():
        x.grad = None
        F.cross_entropy(x, t).backward()

    for _ in range(3):
        step()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    a.record()
    for _ in range(reps):
        step()
    b.record()
    torch.cuda.synchronize()
    ms = a.elapsed_time(b) / reps
    print(json.dumps({'impl': f'torch {torch.__version__}', 'n': n, 'c': c, 'ms': round(ms, 4), 'gbps': round(8 * n * c / (ms * 1e6), 1)}))

# Elementwise peers at 64M elements: forward + backward, 12 B/element as the fuseloss kernel is counted.
n = 1 << 26
x = (torch.rand(n, device='cuda') * 8 - 4).requires_grad_(True)
bits = (torch.rand(n, device='cuda') < 0.5).float()
real = torch.rand(n, device='cuda') * 8 - 4
for name, fn, tgt in [('binaryCrossEntropyWithLogits', F.binary_cross_entropy_with_logits, bits),
                      ('huberLoss', F.huber_loss, real), ('mseLoss', F.mse_loss, real)]:
    def step():
        x.grad = None
        fn(x, tgt).backward()

    for _ in range(3):
        step()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    a.record()
    for _ in range(20):
        step()
    b.record()
    torch.cuda.synchronize()
    ms = a.elapsed_time(b) / 20
    print(json.dumps({'impl': f'torch {torch.__version__}', 'loss': name, 'numel': n, 'ms': round(ms, 4), 'gbps': round(12 * n / (ms * 1e6), 1)}))
