// HardStateStore: two alternating checksummed slots; see the header.
#include "sidecar/storage/hard_state_store.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <optional>
#include <stdexcept>

#include "sidecar/storage/crc32c.h"

namespace conclave::storage {
namespace {

constexpr char kMagic[8] = {'C', 'N', 'C', 'L', 'H', 'S', 'T', '\n'};
constexpr std::size_t kSlotBytes = 52;
constexpr std::uint64_t kSlotOffset[2] = {0, 4096};
constexpr std::uint32_t kVersion = 1;

void put(char* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

std::string encode_slot(const raft::HardState& state, std::uint64_t sequence) {
  std::string slot(kSlotBytes, '\0');
  std::memcpy(slot.data(), kMagic, 8);
  put(slot.data() + 8, kVersion, 4);
  put(slot.data() + 16, sequence, 8);
  put(slot.data() + 24, state.term.value(), 8);
  put(slot.data() + 32, state.vote.value(), 8);
  put(slot.data() + 40, state.commit.value(), 8);
  put(slot.data() + 48, crc32c(slot.data(), 48), 4);
  return slot;
}

struct Slot {
  raft::HardState state;
  std::uint64_t sequence;
};

std::optional<Slot> decode_slot(std::string_view bytes) {
  if (bytes.size() < kSlotBytes || std::memcmp(bytes.data(), kMagic, 8) != 0 ||
      get(bytes.data() + 8, 4) != kVersion || crc32c(bytes.data(), 48) != get(bytes.data() + 48, 4)) {
    return std::nullopt;
  }
  return Slot{{raft::Term(get(bytes.data() + 24, 8)), raft::NodeId(get(bytes.data() + 32, 8)),
               raft::Index(get(bytes.data() + 40, 8))},
              get(bytes.data() + 16, 8)};
}

Status create(Filesystem& fs, const std::string& dir, const std::string& path, bool fsync) {
  std::string tmp = path + ".tmp";
  if (fs.exists(tmp)) {
    if (Status s = fs.remove(tmp); !s) return s;
  }
  auto file = fs.open(tmp, OpenMode::kCreateExclusive);
  if (!file) return file.error();
  raft::HardState zero;
  std::string bytes(kSlotOffset[1] + kSlotBytes, '\0');
  std::string slot0 = encode_slot(zero, 0);
  std::string slot1 = encode_slot(zero, 1);
  bytes.replace(0, kSlotBytes, slot0);
  bytes.replace(kSlotOffset[1], kSlotBytes, slot1);
  if (Status s = (*file)->write_at(0, bytes); !s) return s;
  if (fsync) {
    if (Status s = (*file)->sync(); !s) return s;
  }
  if (Status s = fs.rename(tmp, path); !s) return s;
  return fsync ? fs.sync_dir(dir) : Status{};
}

}  // namespace

Result<std::unique_ptr<HardStateStore>> HardStateStore::open(Filesystem& fs, const std::string& dir, bool fsync,
                                                             bool read_only) {
  std::string path = dir + "/hardstate";
  if (read_only && !fs.exists(path)) {
    std::unique_ptr<HardStateStore> store(new HardStateStore(nullptr, raft::HardState{}, 0, fsync));
    store->read_only_ = true;
    return store;
  }
  if (!read_only) {
    if (Status s = fs.create_dirs(dir); !s) return s.error();
    if (!fs.exists(path)) {
      if (Status s = create(fs, dir, path, fsync); !s) return s.error();
    }
  }
  auto file = fs.open(path, read_only ? OpenMode::kRead : OpenMode::kReadWrite);
  if (!file) return file.error();
  std::optional<Slot> slots[2];
  for (int i = 0; i < 2; ++i) {
    std::string bytes;
    if (Status s = (*file)->read_at(kSlotOffset[i], kSlotBytes, bytes); !s) return s.error();
    slots[i] = decode_slot(bytes);
  }
  if (!slots[0] && !slots[1]) {
    return Error{ErrorCode::kCorrupt,
                 "both copies of the hard state in " + path +
                     " fail their checksums, so this node's term and vote are unknown; it must not vote "
                     "again. If the rest of the cluster is healthy, move the data directory aside and "
                     "restart the node empty so it rejoins from a snapshot"};
  }
  int newest = !slots[1] ? 0 : !slots[0] ? 1 : (slots[0]->sequence > slots[1]->sequence ? 0 : 1);
  if (!slots[1 - newest]) {
    // Normal after a crash during save(); also what decay of the newer copy
    // would look like, which is why it is logged.
    spdlog::warn("storage: one copy of the hard state in {} is damaged (offset {}); using the other "
                 "(term {}, vote {}, commit {})",
                 path, kSlotOffset[1 - newest], slots[newest]->state.term.value(),
                 slots[newest]->state.vote.value(), slots[newest]->state.commit.value());
  }
  std::unique_ptr<HardStateStore> store(
      new HardStateStore(std::move(file).value(), slots[newest]->state, slots[newest]->sequence, fsync));
  store->read_only_ = read_only;
  return store;
}

Status HardStateStore::save(const raft::HardState& state) {
  if (state.term < current_.term ||
      (state.term == current_.term && current_.vote != raft::kNoNode && state.vote != current_.vote)) {
    throw std::logic_error("storage: hard state would move back (term " + std::to_string(current_.term.value()) +
                           " vote " + std::to_string(current_.vote.value()) + " -> term " +
                           std::to_string(state.term.value()) + " vote " + std::to_string(state.vote.value()) +
                           ")");
  }
  if (read_only_) {
    return Error{ErrorCode::kStopped, "the hard state was opened read-only (for an offline tool)"};
  }
  if (failed_) {
    return Error{ErrorCode::kStopped, "the hard state in " + file_->path() +
                                          " stopped accepting writes after an earlier failure; restart the "
                                          "sidecar once the disk is fixed"};
  }
  std::uint64_t next = sequence_ + 1;
  // Sequence n lives in slot n % 2, so this overwrites the older copy.
  std::uint64_t offset = kSlotOffset[next % 2];
  Status s = file_->write_at(offset, encode_slot(state, next));
  if (s && fsync_) s = file_->sync();
  if (!s) {
    failed_ = true;  // fail-stop, as for the log
    spdlog::critical("storage: saving the hard state failed: {}", s.error().message);
    return s;
  }
  sequence_ = next;
  current_ = state;
  return {};
}

}  // namespace conclave::storage
