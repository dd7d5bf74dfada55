// CRC32C (Castagnoli), the checksum on every log record, hard-state slot and
// snapshot. CRC32C rather than CRC32 because x86 (SSE4.2) and ARMv8 compute
// it in hardware, and its error detection on short bursts is at least as good.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace conclave::storage {

// Extends a running CRC: crc32c_extend(crc32c(a), b) == crc32c(a + b).
// Start from 0 for a fresh checksum.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size);

inline std::uint32_t crc32c(const void* data, std::size_t size) {
  return crc32c_extend(0, data, size);
}
inline std::uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }

// The portable implementation (Boost.CRC); exposed so tests can check that
// the hardware path agrees with it and the benchmark can show the difference.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size);

// Whether crc32c_extend uses the CPU's crc32 instruction.
bool crc32c_hardware();

}  // namespace conclave::storage
