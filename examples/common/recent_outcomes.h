// What the most recent entries did, by index, so that the HTTP thread that
// proposed an entry can answer with its result once it is applied. Bounded:
// the oldest are forgotten. Not locked: its owner's lock guards it.
#pragma once

#include <cstddef>
#include <map>
#include <optional>

#include <conclave/handler.h>

namespace conclave::examples {

template <typename Outcome>
class RecentOutcomes {
 public:
  static constexpr std::size_t kMax = 16384;

  void record(Index index, Outcome outcome) {
    outcomes_[index] = std::move(outcome);
    while (outcomes_.size() > kMax) outcomes_.erase(outcomes_.begin());
  }
  std::optional<Outcome> find(Index index) const {
    auto it = outcomes_.find(index);
    if (it == outcomes_.end()) return std::nullopt;
    return it->second;
  }
  void clear() { outcomes_.clear(); }

 private:
  std::map<Index, Outcome> outcomes_;
};

}  // namespace conclave::examples
