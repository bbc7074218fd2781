// Runtime CPU dispatch. One binary runs on any x86-64: hot kernels are compiled once per ISA level and
// one is chosen at load (the best the CPU and OS support), or by FUSELOSS_ISA / set_isa for tests.
#pragma once
#include <string>

namespace fuseloss {

enum class Isa { Baseline = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);
bool parse_isa(const std::string& name, Isa* out);
// Highest level this CPU and OS can run.
Isa best_supported_isa();
bool isa_supported(Isa isa);
// The level kernels use now. Initialised from FUSELOSS_ISA (if set) or best_supported_isa().
Isa active_isa();
// Returns false (and changes nothing) when the CPU cannot run `isa`.
bool set_active_isa(Isa isa);
// Error text if FUSELOSS_ISA named something invalid or unsupported at load; empty otherwise.
const std::string& isa_env_error();

}  // namespace fuseloss
