// The fuzz target for the segment reader. Whatever the bytes, scan_segment
// and decode_records must not crash or read out of bounds, and must never
// vouch for a record that fails its checks: every offset the scan reports
// must decode, in order, to the indices it claims. Built for libFuzzer with
// CONCLAVE_FUZZ=ON (clang); ordinary ctest runs the same function over a
// seeded corpus (segment_reader_corpus.cpp).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "sidecar/storage/segment_format.h"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "segment reader invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conclave::storage;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  SegmentScan scan = scan_segment(bytes);
  require(scan.valid_bytes <= size, "valid_bytes past the end");
  if (scan.end == ScanEnd::kClean) {
    require(scan.valid_bytes + scan.zero_tail_bytes == size, "clean scan that stops early");
    for (std::size_t i = scan.valid_bytes; i < size; ++i) require(data[i] == 0, "a zero tail that is not zero");
  }
  if (scan.end != ScanEnd::kClean) require(scan.zero_tail_bytes == 0, "a zero tail on a scan that did not end clean");
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < scan.offsets.size(); ++i) {
    require(scan.offsets[i] >= previous && scan.offsets[i] < scan.valid_bytes, "offsets out of order");
    previous = scan.offsets[i] + kRecordHeaderBytes;
  }
  if (!scan.offsets.empty()) {
    std::vector<conclave::raft::Entry> entries;
    std::string problem;
    std::string_view records = bytes.substr(scan.offsets[0], scan.valid_bytes - scan.offsets[0]);
    require(decode_records(records, scan.first_index, entries, problem), "a scanned record fails to decode");
    require(entries.size() == scan.offsets.size(), "decode and scan disagree on the count");
  }
  // The decoder alone, on raw bytes, must fail cleanly too.
  std::vector<conclave::raft::Entry> raw;
  std::string problem;
  (void)decode_records(bytes, conclave::raft::Index(1), raw, problem);
  return 0;
}
