#include "sidecar/node/app_entry.h"

namespace conclave::node {

namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(static_cast<unsigned char>(v) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string encode_app_entry(std::uint64_t session, std::uint64_t seq, std::uint64_t floor, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  out.push_back(static_cast<char>(kAppEntryTag));
  put_varint(out, session);
  put_varint(out, seq);
  put_varint(out, floor);
  out.append(data);
  return out;
}

std::optional<AppEntry> decode_app_entry(std::string_view bytes) {
  if (bytes.empty() || static_cast<unsigned char>(bytes.front()) != kAppEntryTag) return std::nullopt;
  bytes.remove_prefix(1);
  AppEntry e;
  if (!get_varint(bytes, e.session) || !get_varint(bytes, e.seq) || !get_varint(bytes, e.floor)) return std::nullopt;
  e.data = bytes;
  return e;
}

}  // namespace conclave::node
