// How an application's proposal is stored in a log entry's data: a one-byte
// tag, the client session, sequence number and floor (schema/app.capnp,
// SESSIONS) as LEB128 varints, then the application's bytes. Every normal
// entry the node proposes carries this envelope (conclavectl's test entries
// too, with session 0), so the stream can tell who proposed what and drop
// retried duplicates. A few bytes per entry: a 256-byte entry with a busy
// session costs about 10 bytes more.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace conclave::node {

inline constexpr unsigned char kAppEntryTag = 0xA1;

struct AppEntry {
  std::uint64_t session = 0;
  std::uint64_t seq = 0;
  std::uint64_t floor = 0;
  std::string_view data;  // points into the decoded buffer
};

std::string encode_app_entry(std::uint64_t session, std::uint64_t seq, std::uint64_t floor, std::string_view data);
// nullopt when `bytes` is not an envelope (a truncated varint, a wrong tag).
std::optional<AppEntry> decode_app_entry(std::string_view bytes);

}  // namespace conclave::node
