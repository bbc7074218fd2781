#include "loss_plan.h"

#include <algorithm>

#include "fuseloss/thread_pool.h"

namespace fuseloss {
namespace {

constexpr int64_t kSerialElems = 16384;

struct PhaseJob {
  LossPlan* plans;
  size_t phase;
  const size_t* task;    // plan index of each participating plan
  const size_t* offset;  // first global chunk of each participating plan (+ the end)
  size_t tasks;
  double* partial;
};

void run_global_chunk(void* ctx, size_t g) {
  const PhaseJob& job = *static_cast<const PhaseJob*>(ctx);
  // The participating plan whose chunk range holds g (plans with no chunks have empty ranges).
  const size_t k = size_t(std::upper_bound(job.offset, job.offset + job.tasks + 1, g) - job.offset) - 1;
  job.partial[g] = job.plans[job.task[k]].phases[job.phase].run(g - job.offset[k]);
}

}  // namespace

void run_plans(LossPlan* plans, size_t count, double* losses) {
  std::vector<double> totals(count, 0.0);
  size_t phases = 0;
  int64_t elements = 0;
  for (size_t i = 0; i < count; ++i) phases = std::max(phases, plans[i].phases.size()), elements += plans[i].grad_len;
  const bool small = elements <= kSerialElems;
  std::vector<size_t> task, offset;
  std::vector<double> partial;
  for (size_t p = 0; p < phases; ++p) {
    task.clear(), offset.clear();
    size_t chunks = 0;
    for (size_t i = 0; i < count; ++i) {
      if (p >= plans[i].phases.size()) continue;
      task.push_back(i), offset.push_back(chunks);
      chunks += plans[i].phases[p].chunks;
    }
    offset.push_back(chunks);
    partial.assign(chunks, 0.0);
    PhaseJob job{plans, p, task.data(), offset.data(), task.size(), partial.data()};
    // Less than one chunk's worth of work in all: waking the pool would cost more than the work. Only
    // where chunks run changes, never what they compute.
    if (small) {
      for (size_t g = 0; g < chunks; ++g) run_global_chunk(&job, g);
    } else {
      parallel_for(chunks, run_global_chunk, &job);
    }
    for (size_t k = 0; k < task.size(); ++k) {
      double sum = 0.0;
      for (size_t g = offset[k]; g < offset[k + 1]; ++g) sum += partial[g];  // chunk order
      LossPlan& plan = plans[task[k]];
      totals[task[k]] += sum;
      if (plan.after) plan.after(p, sum);
    }
  }
  for (size_t i = 0; i < count; ++i) losses[i] = plans[i].finish ? plans[i].finish(totals[i]) : totals[i];
}

}  // namespace fuseloss
