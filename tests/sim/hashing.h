// Hash chains the checkers compare instead of whole logs and states: a log
// prefix, and a state machine's applied sequence, are each summarized by one
// 64-bit value, so checking "these two logs agree through index i" is O(1).
#pragma once

#include <cstdint>
#include <string_view>

#include "sidecar/raft/types.h"

namespace conclave::sim {

// FNV-1a over the bytes, finalized with a strong mixer.
inline std::uint64_t hash_bytes(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The prefix hash of a log through entry e, given the prefix hash before it.
// Two logs with equal prefix hashes at index i hold the same entries 1..i.
inline std::uint64_t chain_entry(std::uint64_t prev, const raft::Entry& e) {
  std::uint64_t h = mix(prev, e.index.value());
  h = mix(h, e.term.value());
  h = mix(h, static_cast<std::uint64_t>(e.type));
  return mix(h, hash_bytes(e.data));
}

}  // namespace conclave::sim
