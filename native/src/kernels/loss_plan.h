// A loss computation as data: phases of independent chunks, fixed by the shape alone. Every driver builds
// one (after all its checks, before anything is written) and runs it with run_plans; the multi-task call
// builds one per task and runs all of them in the same parallel_for per phase. A task's chunks compute
// the same thing in both cases and its chunk results are added in the same order, so a loss computed
// alone and inside a multi-task call carries the same bits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "fuseloss/status.h"

namespace fuseloss {

struct LossPlan {
  struct Phase {
    size_t chunks = 0;
    std::function<double(size_t)> run;  // chunk i -> its loss sum (0 when the phase sums nothing)
  };
  std::vector<Phase> phases;
  // Optional, serial, after phase p with that phase's chunk sums added in chunk order.
  std::function<void(size_t phase, double total)> after;
  // The loss from the ordered sum of every phase's total.
  std::function<double(double total)> finish;
  // No sample contributes: no elements, or (class ids) every target ignored or of weight 0.
  bool empty = false;
  // The gradient arrays this plan writes (grad2: second input of a two-input loss), for zero-filling an
  // empty task and for rescaling gradients in the multi-task call.
  float* grad = nullptr;
  float* grad2 = nullptr;
  int64_t grad_len = 0;
};

// Runs the plans' phases in lockstep: phase p of every plan that has one shares one parallel_for; then
// each plan's `after`; losses[i] = plans[i].finish(sum of its phase totals).
void run_plans(LossPlan* plans, size_t count, double* losses);

// The single-loss entry points use this.
inline double run_plan(LossPlan& plan) {
  double loss = 0.0;
  run_plans(&plan, 1, &loss);
  return loss;
}

}  // namespace fuseloss
