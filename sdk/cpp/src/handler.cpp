// The non-virtual conveniences of the handler interfaces.
#include "conclave/handler.h"

#include <algorithm>

namespace conclave {

std::string SnapshotReader::read_all() {
  std::string out;
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size(), 64u << 20)));  // size() is only a hint
  while (auto chunk = next()) out += *chunk;
  return out;
}

}  // namespace conclave
