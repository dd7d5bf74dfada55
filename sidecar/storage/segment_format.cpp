// Encoding and verification of segment headers and records. All integers are
// little-endian; see segmented_log.h for the layout and the recovery rules.
#include "sidecar/storage/segment_format.h"

#include <algorithm>
#include <cstring>

#include "sidecar/storage/crc32c.h"

namespace conclave::storage {
namespace {

constexpr char kSegmentMagic[8] = {'C', 'N', 'C', 'L', 'S', 'E', 'G', '\n'};

void put32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t get32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
std::uint64_t get64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// Record header: data_crc u32 | length u32 | term u64 | index u64 | type u8,
// 3 zero bytes | header_crc u32 (over the 28 bytes before it).
struct RecordHeader {
  std::uint32_t data_crc;
  std::uint32_t length;
  std::uint64_t term;
  std::uint64_t index;
  std::uint8_t type;
};

bool header_checksum_ok(const char* p) { return crc32c(p, 28) == get32(p + 28); }

RecordHeader parse_header(const char* p) {
  return {get32(p), get32(p + 4), get64(p + 8), get64(p + 16), static_cast<std::uint8_t>(p[24])};
}

bool known_type(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(raft::EntryType::kNormal) ||
         type == static_cast<std::uint8_t>(raft::EntryType::kNoop) ||
         type == static_cast<std::uint8_t>(raft::EntryType::kConfig);
}

bool all_zero(std::string_view bytes) {
  static constexpr char kZeros[4096] = {};
  while (!bytes.empty()) {
    std::size_t n = std::min(bytes.size(), sizeof kZeros);
    if (std::memcmp(bytes.data(), kZeros, n) != 0) return false;
    bytes.remove_prefix(n);
  }
  return true;
}

// Is there a record header with a valid checksum anywhere after `from`? If
// so, the damage at `from` is not the tail of the last write, because
// something was written after it; it may hold committed entries. A header
// is never all zeros, so one must start at or before the last nonzero
// byte: the zeros of a preallocated tail are not searched byte by byte.
bool valid_header_after(std::string_view bytes, std::uint64_t from) {
  std::uint64_t last_nonzero = bytes.size();
  while (last_nonzero > from && bytes[last_nonzero - 1] == 0) --last_nonzero;
  for (std::uint64_t o = from + 1; o < last_nonzero && o + kRecordHeaderBytes <= bytes.size(); ++o) {
    if (header_checksum_ok(bytes.data() + o)) return true;
  }
  return false;
}

std::string at(std::uint64_t offset, raft::Index index) {
  return " at offset " + std::to_string(offset) + " (entry " + std::to_string(index.value()) + ")";
}

}  // namespace

std::string encode_segment_header(raft::Index first_index) {
  std::string out(kSegmentHeaderBytes, '\0');
  std::memcpy(out.data(), kSegmentMagic, 8);
  put32(out.data() + 8, kSegmentFormatVersion);
  put64(out.data() + 16, first_index.value());
  put32(out.data() + 28, crc32c(out.data(), 28));
  return out;
}

std::size_t record_bytes(const raft::Entry& entry) { return kRecordHeaderBytes + entry.data.size(); }

void append_record(std::string& out, const raft::Entry& entry) {
  if (entry.data.size() > kRecordDataMaxBytes) {
    throw std::length_error("storage: entry of " + std::to_string(entry.data.size()) +
                            " bytes exceeds the record limit");
  }
  std::size_t at_offset = out.size();
  out.resize(at_offset + kRecordHeaderBytes);
  char* p = out.data() + at_offset;
  put32(p, crc32c(entry.data));
  put32(p + 4, static_cast<std::uint32_t>(entry.data.size()));
  put64(p + 8, entry.term.value());
  put64(p + 16, entry.index.value());
  p[24] = static_cast<char>(entry.type);
  p[25] = p[26] = p[27] = 0;
  put32(p + 28, crc32c(p, 28));
  out.append(entry.data);
}

SegmentScan scan_segment(std::string_view bytes) {
  SegmentScan scan;
  if (bytes.size() < kSegmentHeaderBytes || !header_checksum_ok(bytes.data()) ||
      std::memcmp(bytes.data(), kSegmentMagic, 8) != 0) {
    // The header is written and synced before the first record, so a bad
    // header is torn only when nothing but zeros (a preallocated file whose
    // header never landed) follows it.
    bool nothing_after = bytes.size() <= kSegmentHeaderBytes || all_zero(bytes.substr(kSegmentHeaderBytes));
    scan.end = nothing_after ? ScanEnd::kTorn : ScanEnd::kCorrupt;
    scan.problem = "segment header is incomplete or fails its checksum";
    return scan;
  }
  if (get32(bytes.data() + 8) != kSegmentFormatVersion) {
    scan.end = ScanEnd::kCorrupt;
    scan.problem = "segment format version " + std::to_string(get32(bytes.data() + 8)) +
                   " is not one this build reads (" + std::to_string(kSegmentFormatVersion) + ")";
    return scan;
  }
  scan.first_index = raft::Index(get64(bytes.data() + 16));
  std::uint64_t offset = kSegmentHeaderBytes;
  raft::Index expected = scan.first_index;
  scan.valid_bytes = offset;
  while (offset < bytes.size()) {
    std::uint64_t left = bytes.size() - offset;
    if (bytes[offset] == 0 && all_zero(bytes.substr(offset))) {
      scan.zero_tail_bytes = left;  // a preallocated tail: the records end here
      return scan;
    }
    std::string problem;
    bool fatal = false;  // damage that a torn write cannot explain
    if (left < kRecordHeaderBytes) {
      problem = "incomplete record header";
    } else if (!header_checksum_ok(bytes.data() + offset)) {
      problem = "record header fails its checksum";
    } else {
      RecordHeader h = parse_header(bytes.data() + offset);
      if (h.index != expected.value()) {
        problem = "record holds index " + std::to_string(h.index) + " where " +
                  std::to_string(expected.value()) + " belongs";
        fatal = true;
      } else if (!known_type(h.type) || h.length > kRecordDataMaxBytes) {
        problem = "record header has an unknown type or an impossible length";
        fatal = true;
      } else if (h.length > left - kRecordHeaderBytes) {
        problem = "record data runs past the end of the file";
      } else if (crc32c(bytes.data() + offset + kRecordHeaderBytes, h.length) != h.data_crc) {
        problem = "record data fails its checksum";
      } else {
        scan.offsets.push_back(offset);
        offset += kRecordHeaderBytes + h.length;
        scan.valid_bytes = offset;
        expected = expected.next();
        continue;
      }
    }
    scan.stop_offset = offset;
    scan.problem = problem + at(offset, expected);
    scan.end = (!fatal && !valid_header_after(bytes, offset)) ? ScanEnd::kTorn : ScanEnd::kCorrupt;
    return scan;
  }
  return scan;
}

bool decode_records(std::string_view bytes, raft::Index first, std::vector<raft::Entry>& out,
                    std::string& problem) {
  std::uint64_t offset = 0;
  raft::Index expected = first;
  while (offset < bytes.size()) {
    if (bytes.size() - offset < kRecordHeaderBytes || !header_checksum_ok(bytes.data() + offset)) {
      problem = "record header fails its checksum" + at(offset, expected);
      return false;
    }
    RecordHeader h = parse_header(bytes.data() + offset);
    if (h.index != expected.value() || !known_type(h.type) ||
        h.length > bytes.size() - offset - kRecordHeaderBytes ||
        crc32c(bytes.data() + offset + kRecordHeaderBytes, h.length) != h.data_crc) {
      problem = "record fails its checks" + at(offset, expected);
      return false;
    }
    out.push_back(raft::Entry{expected, raft::Term(h.term), static_cast<raft::EntryType>(h.type),
                              std::string(bytes.substr(offset + kRecordHeaderBytes, h.length))});
    offset += kRecordHeaderBytes + h.length;
    expected = expected.next();
  }
  return true;
}

}  // namespace conclave::storage
