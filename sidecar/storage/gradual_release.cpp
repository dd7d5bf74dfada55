#include "sidecar/storage/gradual_release.h"

#include <chrono>
#include <thread>

namespace conclave::storage {

void cut_down_gradually(File& file, std::uint64_t step, const std::atomic<bool>* stop) {
  // Long enough for the journal to commit other work between cuts; 16 cuts
  // of a 64 MiB segment add 32 ms to a deletion nobody waits for.
  constexpr auto kPause = std::chrono::milliseconds(2);
  auto size = file.size();
  if (!size || step == 0) return;
  std::uint64_t left = *size;
  while (left > step && !(stop && stop->load())) {
    left -= step;
    if (!file.truncate(left)) return;
    std::this_thread::sleep_for(kPause);
  }
}

}  // namespace conclave::storage
