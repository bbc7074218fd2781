// The fuzz target's driver for compilers without libFuzzer: seeded random inputs of random length for a
// time budget. Usage: fuseloss_fuzz [seconds = 60] [seed = 1]. Any sanitizer report aborts the process.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] == '-') {  // not libFuzzer: no flags
    std::fprintf(stderr, "usage: fuseloss_fuzz [seconds] [seed]\n");
    return 2;
  }
  const double seconds = argc > 1 ? std::atof(argv[1]) : 60.0;
  uint64_t s = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  auto next = [&s] {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<uint8_t> buf;
  uint64_t runs = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int k = 0; k < 64; ++k, ++runs) {
      buf.resize(size_t(next() % 4096));
      for (auto& b : buf) b = uint8_t(next());
      LLVMFuzzerTestOneInput(buf.data(), buf.size());
    }
  }
  std::printf("fuzz: %llu inputs in %.0f s, no sanitizer report\n", static_cast<unsigned long long>(runs), seconds);
  return 0;
}
