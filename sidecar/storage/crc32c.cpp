// CRC32C with the SSE4.2 crc32 instruction when the CPU has it, else
// Boost.CRC's table-driven implementation. The hardware path matters for
// recovery: reading a 1 GiB log verifies every byte, and the table-driven
// code alone runs at well under 1 GB/s (see tools/log_bench for figures).
#include "sidecar/storage/crc32c.h"

#include <boost/crc.hpp>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace conclave::storage {
namespace {

using Crc32cPortable = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc, const void* data,
                                                              std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  while (size >= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (size > 0) {
    c32 = _mm_crc32_u8(c32, *p);
    ++p;
    --size;
  }
  return ~c32;
}

bool detect_hardware() { return __builtin_cpu_supports("sse4.2") != 0; }
#else
bool detect_hardware() { return false; }
#endif

const bool kHardware = detect_hardware();

}  // namespace

std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size) {
  // checksum() is reflect(register) ^ 0xFFFFFFFF, so the register that
  // continues a finished checksum is reflect(crc ^ 0xFFFFFFFF).
  std::uint32_t reg = crc ^ 0xFFFFFFFFu;
  std::uint32_t reflected = 0;
  for (int i = 0; i < 32; ++i) reflected |= ((reg >> i) & 1u) << (31 - i);
  Crc32cPortable engine(reflected);
  engine.process_bytes(data, size);
  return engine.checksum();
}

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) {
#if defined(__x86_64__)
  if (kHardware) return extend_sse42(crc, data, size);
#endif
  return crc32c_extend_portable(crc, data, size);
}

bool crc32c_hardware() { return kHardware; }

}  // namespace conclave::storage
