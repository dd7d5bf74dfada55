#include "sidecar/node/snapshot_data.h"

namespace conclave::node {

using storage::Error;
using storage::ErrorCode;

std::string encode_sidecar_part(const SessionFilter& filter) {
  std::string part = filter.encode();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<std::uint64_t>(part.size()) >> (8 * i));
  return out + part;
}

storage::Result<SnapshotDataReader> SnapshotDataReader::open(storage::SnapshotStore& store,
                                                             const storage::SnapshotInfo& info) {
  auto reader = store.read(info);
  if (!reader) return reader.error();
  SnapshotDataReader r(std::move(reader).value());
  // A snapshot with no data at all holds no sessions and no application
  // state (a cluster that never had an application).
  if (info.data_bytes == 0) return r;
  auto corrupt = [&](const std::string& what) {
    return Error{ErrorCode::kCorrupt, "snapshot " + info.path + ": " + what +
                                          "; remove it (the node then catches up from the leader) or restore it "
                                          "from a backup"};
  };
  std::string head;
  auto fill = [&](std::size_t want) -> storage::Status {
    while (head.size() < want) {
      auto chunk = r.reader_.next(1u << 20);
      if (!chunk) return chunk.error();
      if (chunk->empty()) return corrupt("its data ends inside the sidecar's part");
      head += *chunk;
    }
    return {};
  };
  if (auto s = fill(8); !s) return s.error();
  std::uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= static_cast<std::uint64_t>(static_cast<unsigned char>(head[i])) << (8 * i);
  if (len > info.data_bytes - 8) return corrupt("the sidecar's part claims " + std::to_string(len) + " bytes");
  if (auto s = fill(8 + len); !s) return s.error();
  auto filter = SessionFilter::decode(std::string_view(head).substr(8, len));
  if (!filter) return corrupt("the session table does not decode");
  r.filter_ = std::move(*filter);
  r.app_bytes_ = info.data_bytes - 8 - len;
  r.carry_ = head.substr(8 + len);
  return r;
}

storage::Result<std::string> SnapshotDataReader::next(std::size_t max_bytes) {
  if (!carry_.empty()) {
    std::string out = carry_.substr(0, max_bytes);
    carry_.erase(0, out.size());
    return out;
  }
  return reader_.next(max_bytes);
}

}  // namespace conclave::node
