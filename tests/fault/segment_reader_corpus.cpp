// Runs the segment reader's fuzz target over a seeded random corpus, so the
// ordinary test run covers it without libFuzzer: valid segments, then the
// same with bytes flipped, cut, duplicated, spliced or zeroed.
//
// Inputs: CONCLAVE_FUZZ_ITERATIONS (default 3000); seed: CONCLAVE_FUZZ_SEED.
// `storage_segment_reader_corpus DIR` also writes valid segments into DIR
// as a starting corpus for the libFuzzer build.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "sidecar/storage/segment_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string valid_segment(std::mt19937_64& rng) {
  using namespace conclave;
  std::uint64_t first = 1 + rng() % 1000;
  std::string s = storage::encode_segment_header(raft::Index(first));
  for (std::uint64_t i = 0, n = rng() % 12; i < n; ++i) {
    std::string data(rng() % 80, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    storage::append_record(s, raft::Entry{raft::Index(first + i), raft::Term(1 + rng() % 5),
                                          static_cast<raft::EntryType>(1 + rng() % 3), data});
  }
  return s;
}

void mutate(std::string& s, std::mt19937_64& rng) {
  for (std::uint64_t m = 0, n = 1 + rng() % 3; m < n && !s.empty(); ++m) {
    std::size_t at = rng() % s.size();
    switch (rng() % 6) {
      case 0: s[at] = static_cast<char>(s[at] ^ (1 + rng() % 255)); break;
      case 1: s.resize(at); break;
      case 2: s.insert(at, s.substr(rng() % s.size(), rng() % 64)); break;
      case 3: s.erase(at, rng() % 64); break;
      case 4: s.replace(at, std::min<std::size_t>(s.size() - at, rng() % 64), rng() % 64, '\0'); break;
      default: s += valid_segment(rng).substr(32); break;  // records of another segment
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 16; ++i) {
      std::string path = std::string(argv[1]) + "/segment-" + std::to_string(i);
      std::FILE* f = std::fopen(path.c_str(), "wb");
      if (f == nullptr) return 1;
      std::string input = valid_segment(rng);
      std::fwrite(input.data(), 1, input.size(), f);
      std::fclose(f);
    }
  }
  std::uint64_t iterations = env_or("CONCLAVE_FUZZ_ITERATIONS", 3000);
  std::uint64_t seed = env_or("CONCLAVE_FUZZ_SEED", 1);
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    std::string input = valid_segment(rng);
    if (i % 4 != 0) mutate(input, rng);
    if (i % 50 == 0) {
      input.resize(rng() % 200);
      for (char& c : input) c = static_cast<char>(rng());
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
  std::printf("segment reader: %llu inputs (seed %llu), all invariants held\n",
              static_cast<unsigned long long>(iterations), static_cast<unsigned long long>(seed));
  return 0;
}
