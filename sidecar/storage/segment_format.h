// The bytes of a log segment: its header, the framing of each record, and
// the scan that recovery and the fuzzer run over a segment's contents. The
// format itself is documented at the top of segmented_log.h; this file is
// the one place that encodes and decodes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/raft/types.h"

namespace conclave::storage {

inline constexpr std::size_t kSegmentHeaderBytes = 32;
inline constexpr std::size_t kRecordHeaderBytes = 32;
// A header claiming more than this is damage, not data: it bounds what a
// reader allocates for one record.
inline constexpr std::uint32_t kRecordDataMaxBytes = 64u << 20;
inline constexpr std::uint32_t kSegmentFormatVersion = 1;

std::string encode_segment_header(raft::Index first_index);
std::size_t record_bytes(const raft::Entry& entry);
// Appends the framed record for `entry` to `out`.
void append_record(std::string& out, const raft::Entry& entry);

// How the scan of one segment ended.
enum class ScanEnd {
  kClean,    // every byte belongs to a valid record or to a zero tail
  kTorn,     // the tail from `stop_offset` is an incomplete write: nothing
             // valid follows it, so it can be dropped without losing a record
  kCorrupt,  // damage with valid records after it, a wrong index, a bad
             // segment header: never to be skipped
};

struct SegmentScan {
  ScanEnd end = ScanEnd::kClean;
  // Zero bytes from valid_bytes to the end of the file: a preallocated tail
  // (the end of the log, not damage). Only with ScanEnd::kClean.
  std::uint64_t zero_tail_bytes = 0;
  raft::Index first_index;              // from the segment header
  std::vector<std::uint64_t> offsets;   // offsets[i] holds entry first_index + i
  std::uint64_t valid_bytes = 0;        // end of the last valid record
  std::uint64_t stop_offset = 0;        // where a torn or corrupt region starts
  std::string problem;                  // what was wrong there, for messages
};

// Verifies every checksum and index in `bytes`, a whole segment file. Never
// reads outside `bytes`, never trusts a length before its header checksum
// passed, and never reports a record whose checksum fails. Where every byte
// from a record boundary to the end is zero, the records end there cleanly
// (a preallocated tail): no record header is all zeros, because the CRC32C
// of 28 zero bytes is not zero.
SegmentScan scan_segment(std::string_view bytes);

// Decodes the records in `bytes` (a run of whole records read back from a
// segment), checking each checksum and that indices run from `first`.
// Returns false and sets `problem` (with the offset inside `bytes`) if not.
bool decode_records(std::string_view bytes, raft::Index first, std::vector<raft::Entry>& out,
                    std::string& problem);

}  // namespace conclave::storage
