"""PyTorch's elementwise losses under fuseloss's names and option names: shared by the fixture generator
(scripts/gen-fixtures-elementwise.py, float64 on the CPU) and the CUDA peer (scripts/gpu/torch-cuda-peer.py,
float32 on the GPU). sigmoid_focal_loss is torchvision.ops.sigmoid_focal_loss, written out (torchvision is
not in Debian's python3-torch) exactly as torchvision defines it."""
import torch
import torch.nn.functional as F


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction='none'):
    # torchvision.ops.sigmoid_focal_loss
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction='none')
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == 'mean':
        loss = loss.mean()
    elif reduction == 'sum':
        loss = loss.sum()
    return loss


def elementwise(name, x, t, o, reduction):
    """fuseloss's elementwise loss `name` with options `o` (fuseloss's names) as PyTorch computes it; None
    for a loss PyTorch does not have."""
    w = o.get('weight')
    if name == 'mseLoss':
        return F.mse_loss(x, t, reduction=reduction)
    if name == 'l1Loss':
        return F.l1_loss(x, t, reduction=reduction)
    if name == 'smoothL1Loss':
        return F.smooth_l1_loss(x, t, reduction=reduction, beta=o.get('beta', 1.0))
    if name == 'huberLoss':
        return F.huber_loss(x, t, reduction=reduction, delta=o.get('delta', 1.0))
    if name == 'binaryCrossEntropy':
        return F.binary_cross_entropy(x, t, weight=w, reduction=reduction)
    if name == 'binaryCrossEntropyWithLogits':
        return F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=o.get('posWeight'), reduction=reduction)
    if name == 'hingeEmbeddingLoss':
        return F.hinge_embedding_loss(x, t, margin=o.get('margin', 1.0), reduction=reduction)
    if name == 'klDiv':
        return F.kl_div(x, t, reduction=reduction, log_target=o.get('logTarget', False))
    if name == 'poissonNllLoss':
        return F.poisson_nll_loss(x, t, log_input=o.get('logInput', True), full=o.get('full', False),
                                  eps=o.get('eps', 1e-8), reduction=reduction)
    if name == 'softMarginLoss':
        return F.soft_margin_loss(x, t, reduction=reduction)
    if name == 'sigmoidFocalLoss':
        return sigmoid_focal_loss(x, t, alpha=o.get('alpha', 0.25), gamma=o.get('gamma', 2.0), reduction=reduction)
    return None
