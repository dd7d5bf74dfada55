// Pending simulation events ordered by logical time: a binary heap of small
// keys over a slab of payloads, so pushing and popping never copy a message.
// Ties at the same time are broken by insertion order, which keeps runs
// deterministic.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

namespace conclave::sim {

template <typename Payload>
class EventQueue {
 public:
  void push(std::uint64_t time, Payload payload) {
    std::size_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      slots_[slot] = std::move(payload);
    } else {
      slot = slots_.size();
      slots_.push_back(std::move(payload));
    }
    heap_.push(Key{time, next_seq_++, slot});
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  std::uint64_t next_time() const { return heap_.top().time; }

  // Removes the earliest event; returns its time and payload.
  std::pair<std::uint64_t, Payload> pop() {
    const Key key = heap_.top();
    heap_.pop();
    std::pair<std::uint64_t, Payload> out{key.time, std::move(*slots_[key.slot])};
    slots_[key.slot].reset();
    free_.push_back(key.slot);
    return out;
  }

 private:
  struct Key {
    std::uint64_t time;
    std::uint64_t seq;
    std::size_t slot;
    bool operator>(const Key& other) const {
      return time != other.time ? time > other.time : seq > other.seq;
    }
  };
  std::priority_queue<Key, std::vector<Key>, std::greater<Key>> heap_;
  std::vector<std::optional<Payload>> slots_;
  std::vector<std::size_t> free_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace conclave::sim
