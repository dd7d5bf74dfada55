// Showing entry data safely: printable ASCII as it is, anything else as hex,
// so that a log dump never writes control bytes to a terminal and two dumps
// compare byte for byte.
#pragma once

#include <string>
#include <string_view>

namespace conclave::ctl {

inline bool is_printable(std::string_view data) {
  for (unsigned char c : data) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

inline std::string to_hex(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// For human output: "text" in quotes (with \" and \\ escaped, so the
// quotes delimit it), or hex:0a0b..., or (empty).
inline std::string shown(std::string_view data) {
  if (data.empty()) return "(empty)";
  if (!is_printable(data)) return "hex:" + to_hex(data);
  std::string out = "\"";
  for (char c : data) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace conclave::ctl
