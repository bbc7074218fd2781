// Fuzz target over the core's validation and kernels: random shapes, options, lengths that may disagree
// with the shapes, class ids, NaN/Inf data, aliasing outputs. The property: whatever the bytes, a call
// either returns an error Status or computes, and never reads or writes outside the buffers it was given
// (their lengths are passed as the caller's element counts, as the N-API layer does). Built with ASan +
// UBSan; driven by libFuzzer (clang) or by fuzz_main.cc's seeded random driver (any compiler).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuseloss/bandwidth.h"
#include "fuseloss/cross_entropy.h"
#include "fuseloss/elementwise.h"
#include "fuseloss/linear.h"
#include "fuseloss/linear_cross_entropy.h"
#include "fuseloss/multi_task.h"
#include "fuseloss/optim.h"
#include "fuseloss/reduce.h"
#include "fuseloss/rowwise.h"

using namespace fuseloss;

namespace {

struct Reader {
  const uint8_t* p;
  size_t n, i = 0;
  uint8_t u8() { return i < n ? p[i++] : 0; }
  uint32_t u32() { return uint32_t(u8()) | uint32_t(u8()) << 8 | uint32_t(u8()) << 16 | uint32_t(u8()) << 24; }
  int64_t upto(int64_t max) { return int64_t(u32() % uint32_t(max + 1)); }
  float f32() {  // mostly ordinary values, sometimes any bit pattern (NaN, Inf, subnormals)
    const uint8_t k = u8();
    if (k < 200) return float(int32_t(u32() % 2001) - 1000) / 250.0f;
    const uint32_t b = u32();
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  bool flag() { return u8() & 1; }
};

// A buffer of a length the fuzzer picks near `want` (sometimes wrong), filled from the input.
std::vector<float> floats(Reader& r, int64_t want) {
  const int d = int(r.u8() % 8);
  int64_t len = d == 0 ? want - 1 : d == 1 ? want + 1 : want;
  if (len < 0) len = 0;
  std::vector<float> v(static_cast<size_t>(len));
  for (auto& x : v) x = r.f32();
  return v;
}
std::vector<int32_t> ids(Reader& r, int64_t want, int64_t c) {
  const int d = int(r.u8() % 8);
  int64_t len = d == 0 ? want - 1 : d == 1 ? want + 1 : want;
  if (len < 0) len = 0;
  std::vector<int32_t> v(static_cast<size_t>(len));
  for (auto& y : v) {
    const uint8_t k = r.u8();
    y = k < 230 ? int32_t(r.upto(c > 0 ? c - 1 : 0)) : k < 245 ? -100 : int32_t(r.u32());
  }
  return v;
}
template <class T>
const T* ptr(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}
template <class T>
T* mptr(std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

// A reduction for any loss's args; 'none' gets the per-element loss output and maybe a grad_output.
template <class Args>
void pick_reduction(Reader& r, Args& a, std::vector<float>& lo, const std::vector<float>& go) {
  a.reduction = Reduction(r.upto(2));
  if (a.reduction == Reduction::None) {
    a.loss_out = mptr(lo), a.loss_len = int64_t(lo.size());
    if (r.flag()) a.grad_output = ptr(go), a.grad_output_len = int64_t(go.size());
  }
}

void fuzz_cross_entropy(Reader& r, bool nll) {
  CrossEntropyArgs a;
  a.n = r.upto(40), a.c = 1 + r.upto(40), a.s = r.upto(3);
  const int64_t pos = a.n * a.s, elems = pos * a.c;
  auto x = floats(r, elems);
  const bool prob = !nll && r.flag();
  auto ti = ids(r, pos, a.c);
  auto tp = floats(r, elems);
  auto w = floats(r, a.c);
  auto sw = floats(r, a.n);
  auto go = floats(r, pos);
  auto lo = floats(r, pos);
  const bool inplace = r.flag();
  auto g = inplace ? std::vector<float>() : floats(r, elems);
  a.input = ptr(x), a.input_len = int64_t(x.size());
  if (prob)
    a.target_prob = ptr(tp), a.target_len = int64_t(tp.size());
  else
    a.target_index = ptr(ti), a.target_len = int64_t(ti.size());
  if (r.flag()) a.weight = ptr(w), a.weight_len = int64_t(w.size());
  if (r.flag()) a.sample_weight = ptr(sw), a.sample_weight_len = int64_t(sw.size());
  pick_reduction(r, a, lo, go);
  a.ignore_index = r.flag() ? -100 : r.upto(a.c);
  a.label_smoothing = nll ? 0.0 : double(r.upto(4)) / 4.0;
  a.grad_scale = r.f32();
  if (inplace)
    a.grad = const_cast<float*>(ptr(x)), a.grad_len = int64_t(x.size());
  else
    a.grad = mptr(g), a.grad_len = int64_t(g.size());
  double loss = 0.0;
  if (nll)
    (void)nll_loss(a, &loss);
  else
    (void)cross_entropy(a, &loss);
}

void fuzz_elementwise(Reader& r) {
  ElementwiseArgs a;
  a.kind = ElementwiseLoss(r.upto(int(ElementwiseLoss::kCount) - 1));
  a.samples = r.upto(20);
  const int64_t per = 1 + r.upto(20);
  a.classes = 1 + r.upto(per - 1);
  a.numel = a.samples * per;
  if (per % a.classes) a.classes = 1;
  auto x = floats(r, a.numel), t = floats(r, a.numel), g = floats(r, a.numel), lo = floats(r, a.numel), go = floats(r, a.numel);
  auto w = floats(r, r.flag() ? a.classes : a.numel), pw = floats(r, a.classes), sw = floats(r, a.samples);
  a.input = ptr(x), a.input_len = int64_t(x.size()), a.target = ptr(t), a.target_len = int64_t(t.size());
  a.grad = mptr(g), a.grad_len = int64_t(g.size());
  if (r.flag()) a.weight = ptr(w), a.weight_len = int64_t(w.size());
  if (r.flag()) a.pos_weight = ptr(pw), a.pos_weight_len = int64_t(pw.size());
  if (r.flag()) a.sample_weight = ptr(sw), a.sample_weight_len = int64_t(sw.size());
  pick_reduction(r, a, lo, go);
  a.batchmean = r.flag(), a.grad_scale = r.f32(), a.p0 = r.f32(), a.p1 = r.f32(), a.flag = r.flag(), a.flag2 = r.flag();
  double loss = 0.0;
  (void)elementwise_loss(a, &loss);
}

void fuzz_rows(Reader& r) {
  RowLossArgs a;
  a.n = r.upto(30), a.c = 1 + r.upto(30);
  const int which = int(r.upto(4));
  const int64_t elems = a.n * a.c;
  auto x = floats(r, elems), x2 = floats(r, elems), g = floats(r, elems), g2 = floats(r, elems);
  auto tf = floats(r, which == 2 ? a.n : elems);
  auto ti = ids(r, a.n, a.c);
  auto w = floats(r, a.c), sw = floats(r, a.n);
  const int64_t out_len = which == 3 ? a.c : a.n;
  auto lo = floats(r, out_len), go = floats(r, out_len);
  a.input = ptr(x), a.input_len = int64_t(x.size()), a.grad = mptr(g), a.grad_len = int64_t(g.size());
  if (which == 0)
    a.target_index = ptr(ti), a.target_len = int64_t(ti.size());
  else
    a.target = ptr(tf), a.target_len = int64_t(tf.size());
  if (which == 2) a.input2 = ptr(x2), a.input2_len = int64_t(x2.size()), a.grad2 = mptr(g2), a.grad2_len = int64_t(g2.size());
  if (r.flag()) a.weight = ptr(w), a.weight_len = int64_t(w.size());
  if (r.flag()) a.sample_weight = ptr(sw), a.sample_weight_len = int64_t(sw.size());
  pick_reduction(r, a, lo, go);
  a.grad_scale = r.f32(), a.p = double(1 + r.upto(2)), a.margin = r.f32(), a.eps = r.f32();
  double loss = 0.0;
  switch (which) {
    case 0:
      (void)multi_margin_loss(a, &loss);
      break;
    case 1:
      (void)multilabel_soft_margin_loss(a, &loss);
      break;
    case 2:
      (void)cosine_embedding_loss(a, &loss);
      break;
    case 3:
      (void)cosine_distance(a, &loss);
      break;
    default:
      (void)soft_f1_loss(a, &loss);
      break;
  }
}

void fuzz_multi_task(Reader& r) {
  // Two elementwise tasks that may share (alias) buffers: the cross-task check must refuse overlaps.
  const int64_t n = 1 + r.upto(64);
  std::vector<float> buf(static_cast<size_t>(4 * n));
  for (auto& v : buf) v = r.f32();
  MultiTaskArgs m;
  m.tasks.resize(2);
  for (int t = 0; t < 2; ++t) {
    TaskArgs& ta = m.tasks[size_t(t)];
    ta.family = TaskFamily::Elementwise;
    ElementwiseArgs& e = ta.ew;
    e.kind = ElementwiseLoss(r.upto(int(ElementwiseLoss::kCount) - 1));
    e.numel = n, e.samples = 1, e.classes = 1;
    const int64_t xo = r.upto(3) * n, to = r.upto(3) * n, go = r.upto(3) * n;
    e.input = buf.data() + xo, e.input_len = n, e.target = buf.data() + to, e.target_len = n;
    e.grad = buf.data() + go, e.grad_len = n;
    e.reduction = Reduction(1 + r.upto(1));
    e.p0 = 1.0, e.p1 = 2.0;
  }
  m.rule = WeightRule(r.upto(2));
  MultiTaskResult res;
  (void)multi_task_loss(m, &res);
}

void fuzz_reduce(Reader& r) {
  const int T = int(r.upto(5));
  const int64_t n = r.upto(300);
  std::vector<std::vector<float>> g(static_cast<size_t>(T));
  std::vector<const float*> p(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) {
    g[size_t(t)].resize(size_t(n));
    for (auto& v : g[size_t(t)]) v = r.f32();
    p[size_t(t)] = ptr(g[size_t(t)]);
  }
  std::vector<double> gram(size_t(T * T) + 1);
  (void)gram_matrix(p.data(), T, n, gram.data());
  std::vector<double> coef(size_t(T) + 1, 0.5);
  std::vector<float> out(size_t(n) + 1);
  (void)combine_gradients(p.data(), T, n, coef.data(), out.data());
  (void)grad_drop(p.data(), T, n, r.u32(), out.data());
  std::vector<int64_t> lens(static_cast<size_t>(T), n);
  double norm = 0.0;
  (void)total_norm(p.data(), lens.data(), T, double(r.upto(3)) + 0.5, &norm);
  std::vector<std::vector<float>> bufs(static_cast<size_t>(T), std::vector<float>(size_t(n)));
  std::vector<float*> bp(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) bp[size_t(t)] = bufs[size_t(t)].data();
  std::vector<double> norms(size_t(T) + 1);
  (void)ema_update(bp.data(), p.data(), T, n, double(r.upto(4)) / 4.0, norms.data());
  (void)first_non_finite(T ? p[0] : nullptr, T ? n : 0);
}

void fuzz_linear(Reader& r) {
  LinearArgs a;
  a.batch = r.upto(40), a.in = r.upto(70), a.out = r.upto(50);
  auto x = floats(r, a.batch * a.in), w = floats(r, a.out * a.in), b = floats(r, a.out), go = floats(r, a.batch * a.out);
  auto y = floats(r, a.batch * a.out), gw = floats(r, a.out * a.in), gb = floats(r, a.out), gi = floats(r, a.batch * a.in);
  a.x = ptr(x), a.x_len = int64_t(x.size()), a.weight = ptr(w), a.weight_len = int64_t(w.size());
  if (r.flag()) a.bias = ptr(b), a.bias_len = int64_t(b.size());
  a.grad_out = ptr(go), a.grad_out_len = int64_t(go.size()), a.y = mptr(y), a.y_len = int64_t(y.size());
  if (r.flag()) a.grad_weight = mptr(gw), a.grad_weight_len = int64_t(gw.size());
  if (r.flag()) a.grad_bias = mptr(gb), a.grad_bias_len = int64_t(gb.size());
  if (r.flag()) a.grad_input = mptr(gi), a.grad_input_len = int64_t(gi.size());
  a.accumulate = r.flag();
  (void)linear_forward(a);
  (void)linear_backward(a);
}

// linear_cross_entropy: shapes, chunk sizes, lengths that disagree, ids out of range, softcap and z-loss of
// any value (NaN and negative ones must be refused), optional outputs, accumulation.
void fuzz_linear_cross_entropy(Reader& r) {
  LinearCrossEntropyArgs a;
  a.n = r.upto(40), a.h = r.upto(20), a.c = 1 + r.upto(60);
  auto x = floats(r, a.n * a.h), w = floats(r, a.c * a.h), b = floats(r, a.c);
  auto ti = ids(r, a.n, a.c);
  auto tp = floats(r, a.n * a.c), cw = floats(r, a.c), sw = floats(r, a.n), go = floats(r, a.n);
  auto gi = floats(r, a.n * a.h), gw = floats(r, a.c * a.h), gb = floats(r, a.c), lo = floats(r, a.n), lse = floats(r, a.n);
  a.input = ptr(x), a.input_len = int64_t(x.size()), a.weight = ptr(w), a.weight_len = int64_t(w.size());
  if (r.flag()) a.bias = ptr(b), a.bias_len = int64_t(b.size());
  if (r.flag())
    a.target_prob = ptr(tp), a.target_len = int64_t(tp.size());
  else
    a.target_index = ptr(ti), a.target_len = int64_t(ti.size());
  if (r.flag()) a.class_weight = ptr(cw), a.class_weight_len = int64_t(cw.size());
  if (r.flag()) a.sample_weight = ptr(sw), a.sample_weight_len = int64_t(sw.size());
  pick_reduction(r, a, lo, go);
  a.ignore_index = r.flag() ? -100 : r.upto(a.c);
  a.label_smoothing = double(r.upto(4)) / 4.0;
  a.grad_scale = r.f32();
  a.lse_square_scale = r.flag() ? double(r.f32()) : 0.0;
  a.softcap = r.flag() ? double(r.f32()) : 0.0;
  a.chunk_rows = r.upto(6);
  a.accumulate = r.flag();
  a.want_accuracy = r.flag();
  if (r.flag()) a.grad_input = mptr(gi), a.grad_input_len = int64_t(gi.size());
  if (r.flag()) a.grad_weight = mptr(gw), a.grad_weight_len = int64_t(gw.size());
  if (r.flag()) a.grad_bias = mptr(gb), a.grad_bias_len = int64_t(gb.size());
  if (r.flag()) a.lse_out = mptr(lse), a.lse_len = int64_t(lse.size());
  LinearCrossEntropyResult res;
  (void)linear_cross_entropy(a, &res);
}

// Optimizer steps: several buffers of lengths that may disagree, state present or not, buffers that may
// alias each other, hyper-parameters in and out of range.
void fuzz_optim(Reader& r) {
  OptimizerArgs a;
  a.kind = OptimizerKind(r.upto(2));
  OptimizerHyper& h = a.hyper;
  h.lr = r.f32(), h.momentum = r.flag() ? 0.0 : r.f32(), h.dampening = r.flag() ? 0.0 : r.f32(), h.nesterov = r.flag();
  h.beta1 = r.f32(), h.beta2 = r.f32(), h.eps = r.f32(), h.weight_decay = r.flag() ? 0.0 : r.f32(), h.maximize = r.flag();
  h.step = int64_t(r.upto(5)) - 1;
  const int nb = int(r.upto(4));
  std::vector<std::vector<float>> store;
  store.reserve(size_t(4 * nb));
  for (int b = 0; b < nb; ++b) {
    const int64_t n = r.upto(40000);
    ParamBuffer pb;
    store.push_back(floats(r, n));
    pb.param = store.back().data(), pb.param_len = int64_t(store.back().size());
    store.push_back(floats(r, n));
    pb.grad = store.back().data(), pb.grad_len = int64_t(store.back().size());
    if (r.u8() % 8) {
      store.push_back(floats(r, n));
      pb.exp_avg = store.back().data(), pb.exp_avg_len = int64_t(store.back().size());
    }
    if (r.u8() % 8) {
      store.push_back(floats(r, n));
      pb.exp_avg_sq = store.back().data(), pb.exp_avg_sq_len = int64_t(store.back().size());
    }
    if (b > 0 && r.u8() % 16 == 0)
      pb.param = a.buffers[0].param, pb.param_len = std::min(pb.param_len, a.buffers[0].param_len);  // aliasing
    a.buffers.push_back(pb);
  }
  (void)optimizer_step(a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  switch (r.u8() % 9) {
    case 0:
      fuzz_cross_entropy(r, false);
      break;
    case 1:
      fuzz_cross_entropy(r, true);
      break;
    case 2:
      fuzz_elementwise(r);
      break;
    case 3:
      fuzz_rows(r);
      break;
    case 4:
      fuzz_multi_task(r);
      break;
    case 5:
      fuzz_reduce(r);
      break;
    case 6:
      fuzz_optim(r);
      break;
    case 7:
      fuzz_linear_cross_entropy(r);
      break;
    default:
      fuzz_linear(r);
      break;
  }
  return 0;
}
