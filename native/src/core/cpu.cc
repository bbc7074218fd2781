#include "fuseloss/cpu.h"

#include <atomic>
#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define FUSELOSS_X86 1
#endif

namespace fuseloss {
namespace {

#ifdef FUSELOSS_X86
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}
#endif

Isa detect() {
#ifdef FUSELOSS_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::Baseline;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
  if (!osxsave || !avx) return Isa::Baseline;
  const uint64_t xcr0 = xgetbv0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_ymm || __get_cpuid_max(0, nullptr) < 7) return Isa::Baseline;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
  if (avx512f && avx2 && fma && os_zmm) return Isa::Avx512;
  if (avx2 && fma) return Isa::Avx2;
#endif
  return Isa::Baseline;
}

struct State {
  Isa best;
  std::atomic<int> active;
  std::string env_error;
  State() : best(detect()), active(int(best)) {
    const char* env = std::getenv("FUSELOSS_ISA");
    if (env == nullptr || *env == '\0') return;
    Isa want;
    if (!parse_isa(env, &want)) {
      env_error = std::string("FUSELOSS_ISA='") + env + "' is not one of baseline, avx2, avx512";
    } else if (int(want) > int(best)) {
      env_error = std::string("FUSELOSS_ISA='") + env + "' asks for an instruction set this CPU lacks (best here: " + isa_name(best) + ")";
    } else {
      active = int(want);
    }
  }
};

State& state() {
  static State s;
  return s;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    default:
      return "baseline";
  }
}

bool parse_isa(const std::string& name, Isa* out) {
  if (name == "baseline")
    *out = Isa::Baseline;
  else if (name == "avx2")
    *out = Isa::Avx2;
  else if (name == "avx512")
    *out = Isa::Avx512;
  else
    return false;
  return true;
}

Isa best_supported_isa() { return state().best; }
bool isa_supported(Isa isa) { return int(isa) <= int(state().best); }
Isa active_isa() { return Isa(state().active.load(std::memory_order_relaxed)); }
bool set_active_isa(Isa isa) {
  if (!isa_supported(isa)) return false;
  state().active.store(int(isa), std::memory_order_relaxed);
  return true;
}
const std::string& isa_env_error() { return state().env_error; }

}  // namespace fuseloss
