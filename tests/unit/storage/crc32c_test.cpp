// CRC32C: known answers, continuation, and the hardware path against the
// portable one.
#include "sidecar/storage/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace conclave::storage {
namespace {

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the standard check value
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "the quick brown fox jumps over the lazy dog";
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    std::uint32_t a = crc32c(s.data(), cut);
    EXPECT_EQ(crc32c_extend(a, s.data() + cut, s.size() - cut), crc32c(s)) << cut;
    std::uint32_t p = crc32c_extend_portable(0, s.data(), cut);
    EXPECT_EQ(crc32c_extend_portable(p, s.data() + cut, s.size() - cut), crc32c(s)) << cut;
  }
}

TEST(Crc32c, HardwareAgreesWithPortableAtEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  std::string buf(300, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t len = 0; start + len <= buf.size(); len += 7) {
      EXPECT_EQ(crc32c(buf.data() + start, len), crc32c_extend_portable(0, buf.data() + start, len));
    }
  }
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::string s(64, 'x');
  std::uint32_t base = crc32c(s);
  for (std::size_t bit = 0; bit < s.size() * 8; ++bit) {
    std::string t = s;
    t[bit / 8] = static_cast<char>(t[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(crc32c(t), base) << bit;
  }
}

}  // namespace
}  // namespace conclave::storage
