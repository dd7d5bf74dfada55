// The segment scan: clean segments, and where torn ends and corruption begin.
#include "sidecar/storage/segment_format.h"

#include <gtest/gtest.h>

#include "sidecar/storage/crc32c.h"

namespace conclave::storage {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Term;

std::string segment(Index first, int count, std::size_t data_bytes = 10) {
  std::string out = encode_segment_header(first);
  for (int i = 0; i < count; ++i) {
    append_record(out, Entry{Index(first.value() + i), Term(3), EntryType::kNormal,
                             std::string(data_bytes, static_cast<char>('a' + i % 26))});
  }
  return out;
}

TEST(SegmentFormat, CleanSegmentListsEveryRecord) {
  std::string s = segment(Index(5), 3);
  SegmentScan scan = scan_segment(s);
  EXPECT_EQ(scan.end, ScanEnd::kClean);
  EXPECT_EQ(scan.first_index, Index(5));
  ASSERT_EQ(scan.offsets.size(), 3u);
  EXPECT_EQ(scan.offsets[0], kSegmentHeaderBytes);
  EXPECT_EQ(scan.offsets[1], kSegmentHeaderBytes + kRecordHeaderBytes + 10);
  EXPECT_EQ(scan.valid_bytes, s.size());
}

TEST(SegmentFormat, EmptySegmentIsClean) {
  SegmentScan scan = scan_segment(encode_segment_header(Index(9)));
  EXPECT_EQ(scan.end, ScanEnd::kClean);
  EXPECT_TRUE(scan.offsets.empty());
  EXPECT_EQ(scan.first_index, Index(9));
}

TEST(SegmentFormat, ShortOrBadHeaderAloneIsTorn) {
  std::string h = encode_segment_header(Index(1));
  for (std::size_t n = 0; n < h.size(); ++n) EXPECT_EQ(scan_segment(h.substr(0, n)).end, ScanEnd::kTorn) << n;
  std::string bad = h;
  bad[20] ^= 1;
  EXPECT_EQ(scan_segment(bad).end, ScanEnd::kTorn);
  EXPECT_EQ(scan_segment(bad + "x").end, ScanEnd::kCorrupt);  // something follows it
}

TEST(SegmentFormat, EveryCutOfTheLastRecordIsTornAndKeepsTheOthers) {
  std::string s = segment(Index(1), 3);
  std::uint64_t last_start = scan_segment(s).offsets[2];
  for (std::size_t cut = last_start + 1; cut < s.size(); ++cut) {
    SegmentScan scan = scan_segment(s.substr(0, cut));
    EXPECT_EQ(scan.end, ScanEnd::kTorn) << cut;
    EXPECT_EQ(scan.offsets.size(), 2u) << cut;
    EXPECT_EQ(scan.valid_bytes, last_start) << cut;
    EXPECT_EQ(scan.stop_offset, last_start) << cut;
  }
}

TEST(SegmentFormat, AZeroFilledTailIsTheCleanEnd) {
  std::string records = segment(Index(1), 2);
  for (std::size_t zeros : {1u, 31u, 32u, 33u, 4096u}) {
    SegmentScan scan = scan_segment(records + std::string(zeros, '\0'));
    EXPECT_EQ(scan.end, ScanEnd::kClean) << zeros;
    EXPECT_EQ(scan.offsets.size(), 2u) << zeros;
    EXPECT_EQ(scan.valid_bytes, records.size()) << zeros;
    EXPECT_EQ(scan.zero_tail_bytes, zeros) << zeros;
  }
  EXPECT_EQ(scan_segment(records).zero_tail_bytes, 0u);
}

TEST(SegmentFormat, NoRecordHeaderIsAllZeros) {
  // What lets a preallocated tail and a record be told apart.
  EXPECT_NE(crc32c(std::string(28, '\0')), 0u);
}

TEST(SegmentFormat, ATornRecordBeforeAZeroTailIsTorn) {
  std::string s = segment(Index(1), 3);
  SegmentScan clean = scan_segment(s);
  std::uint64_t last_start = clean.offsets[2];
  for (std::uint64_t cut = last_start + 1; cut < s.size(); ++cut) {
    // The record's first bytes landed; the rest of its pages stayed zero.
    std::string torn = s.substr(0, cut) + std::string(s.size() - cut + 4096, '\0');
    SegmentScan scan = scan_segment(torn);
    bool nothing_landed = s.find_first_not_of('\0', last_start) >= cut;
    EXPECT_EQ(scan.end, nothing_landed ? ScanEnd::kClean : ScanEnd::kTorn) << cut;
    EXPECT_EQ(scan.offsets.size(), 2u) << cut;
    EXPECT_EQ(scan.valid_bytes, last_start) << cut;
  }
}

TEST(SegmentFormat, ZerosThenGarbageIsTorn) {
  std::string records = segment(Index(1), 2);
  SegmentScan scan = scan_segment(records + std::string(100, '\0') + "\x7f\x7f\x7f" + std::string(100, '\0'));
  EXPECT_EQ(scan.end, ScanEnd::kTorn);
  EXPECT_EQ(scan.offsets.size(), 2u);
  EXPECT_EQ(scan.stop_offset, records.size());
}

TEST(SegmentFormat, ZerosThenAValidRecordAreCorrupt) {
  std::string s = segment(Index(1), 2);
  std::string third;
  append_record(third, Entry{Index(3), Term(3), EntryType::kNormal, "third"});
  SegmentScan scan = scan_segment(s + std::string(64, '\0') + third);
  EXPECT_EQ(scan.end, ScanEnd::kCorrupt);
  EXPECT_EQ(scan.offsets.size(), 2u);
}

TEST(SegmentFormat, AnAllZeroFileIsATornHeader) {
  SegmentScan scan = scan_segment(std::string(4096, '\0'));
  EXPECT_EQ(scan.end, ScanEnd::kTorn);
  EXPECT_TRUE(scan.offsets.empty());
  std::string zero_header_then_data = std::string(kSegmentHeaderBytes, '\0') + "x";
  EXPECT_EQ(scan_segment(zero_header_then_data).end, ScanEnd::kCorrupt);
}

TEST(SegmentFormat, DamageFollowedByAValidRecordIsCorrupt) {
  std::string s = segment(Index(1), 3);
  SegmentScan clean = scan_segment(s);
  // A flipped data byte in the middle record: the last record still checks.
  s[clean.offsets[1] + kRecordHeaderBytes + 2] ^= 0x40;
  SegmentScan scan = scan_segment(s);
  EXPECT_EQ(scan.end, ScanEnd::kCorrupt);
  EXPECT_EQ(scan.offsets.size(), 1u);
  EXPECT_EQ(scan.stop_offset, clean.offsets[1]);
  EXPECT_NE(scan.problem.find("entry 2"), std::string::npos) << scan.problem;
}

TEST(SegmentFormat, DamageInTheLastRecordIsTorn) {
  std::string s = segment(Index(1), 3);
  s[scan_segment(s).offsets[2] + kRecordHeaderBytes + 1] ^= 1;
  EXPECT_EQ(scan_segment(s).end, ScanEnd::kTorn);
}

TEST(SegmentFormat, WrongIndexIsCorruptEvenAtTheEnd) {
  std::string s = encode_segment_header(Index(1));
  append_record(s, Entry{Index(1), Term(1), EntryType::kNormal, "a"});
  append_record(s, Entry{Index(3), Term(1), EntryType::kNormal, "b"});
  SegmentScan scan = scan_segment(s);
  EXPECT_EQ(scan.end, ScanEnd::kCorrupt);
  EXPECT_EQ(scan.offsets.size(), 1u);
}

TEST(SegmentFormat, DecodeRecordsRoundTripsAndChecks) {
  std::string s = segment(Index(7), 4, 100);
  SegmentScan scan = scan_segment(s);
  std::vector<Entry> out;
  std::string problem;
  ASSERT_TRUE(decode_records(std::string_view(s).substr(scan.offsets[1]), Index(8), out, problem)) << problem;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].index, Index(8));
  EXPECT_EQ(out[2].data, std::string(100, 'd'));
  out.clear();
  EXPECT_FALSE(decode_records(std::string_view(s).substr(scan.offsets[1]), Index(9), out, problem));
  std::string bad = s;
  bad[scan.offsets[3] + 40] ^= 1;
  out.clear();
  EXPECT_FALSE(decode_records(std::string_view(bad).substr(scan.offsets[0]), Index(7), out, problem));
  EXPECT_NE(problem.find("entry 10"), std::string::npos) << problem;
}

TEST(SegmentFormat, EmptyDataAndEveryEntryTypeRoundTrip) {
  std::string s = encode_segment_header(Index(1));
  append_record(s, Entry{Index(1), Term(1), EntryType::kNoop, ""});
  append_record(s, Entry{Index(2), Term(2), EntryType::kConfig, "cfg"});
  SegmentScan scan = scan_segment(s);
  ASSERT_EQ(scan.end, ScanEnd::kClean);
  std::vector<Entry> out;
  std::string problem;
  ASSERT_TRUE(decode_records(std::string_view(s).substr(kSegmentHeaderBytes), Index(1), out, problem));
  EXPECT_EQ(out[0], (Entry{Index(1), Term(1), EntryType::kNoop, ""}));
  EXPECT_EQ(out[1], (Entry{Index(2), Term(2), EntryType::kConfig, "cfg"}));
}

}  // namespace
}  // namespace conclave::storage
