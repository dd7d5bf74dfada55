// Applying entries to the simulated state machine, and its snapshot format.
#include "tests/sim/state_machine.h"

#include "tests/sim/hashing.h"

namespace conclave::sim {
namespace {

constexpr std::uint64_t kSnapshotMagic = 0x434f4e434c534e50ULL;  // "CONCLSNP"

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_u64(std::string_view bytes, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  }
  return v;
}

}  // namespace

MachineState apply_entry(const MachineState& state, const raft::Entry& entry) {
  MachineState next = state;
  next.applied = entry.index;
  if (entry.type == raft::EntryType::kNormal) {
    next.writes += 1;
    next.hash = mix(state.hash, hash_bytes(entry.data));
  }
  return next;
}

std::string encode_snapshot(const MachineState& state, std::size_t padding_bytes) {
  std::string out;
  out.reserve(40 + padding_bytes);
  put_u64(out, kSnapshotMagic);
  put_u64(out, state.applied.value());
  put_u64(out, state.writes);
  put_u64(out, state.hash);
  // A checksum over the fields, so a snapshot reassembled from chunks in the
  // wrong order or with a chunk missing is detected rather than installed.
  put_u64(out, mix(mix(state.applied.value(), state.writes), state.hash));
  out.append(padding_bytes, static_cast<char>(state.hash & 0x7f));
  return out;
}

std::optional<MachineState> decode_snapshot(std::string_view bytes) {
  if (bytes.size() < 40 || get_u64(bytes, 0) != kSnapshotMagic) return std::nullopt;
  MachineState state;
  state.applied = raft::Index(get_u64(bytes, 8));
  state.writes = get_u64(bytes, 16);
  state.hash = get_u64(bytes, 24);
  if (get_u64(bytes, 32) != mix(mix(state.applied.value(), state.writes), state.hash)) {
    return std::nullopt;
  }
  for (std::size_t i = 40; i < bytes.size(); ++i) {
    if (bytes[i] != static_cast<char>(state.hash & 0x7f)) return std::nullopt;
  }
  return state;
}

}  // namespace conclave::sim
