// The simulator's only source of randomness: xoshiro256** seeded through
// splitmix64. Every choice in a run (delays, losses, crashes, election-timeout
// seeds of the cores) is drawn from generators forked off the run's seed, so
// `conclave-sim --seed S` replays a run exactly. There is no global state and
// no std::random_device on purpose.
#pragma once

#include <cstdint>

namespace conclave::sim {

// One step of splitmix64: a good way to expand one 64-bit seed into many.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (std::uint64_t& word : state_) word = splitmix64(s);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, n); n == 0 yields 0. The modulo bias is below 2^-40 for
  // the small n the simulator uses, which is irrelevant here.
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }

  // Uniform in [lo, hi], inclusive.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) {
    return hi <= lo ? lo : lo + below(hi - lo + 1);
  }

  // True with probability permille / 1000.
  bool chance(std::uint64_t permille) { return below(1000) < permille; }

  // An independent generator for a subsystem, so that drawing more numbers in
  // one place (say, tracing a choice) never shifts the choices of another.
  Rng fork() { return Rng(next()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4] = {};
};

}  // namespace conclave::sim
