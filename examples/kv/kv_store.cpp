// Applying kv commands, and the snapshot format: u64 count, then for each
// pair, key and value as length-prefixed bytes, in key order.
#include "kv_store.h"

#include <charconv>
#include <mutex>
#include <stdexcept>

#include "../common/codec.h"

namespace conclave::examples {

std::string encode(const KvCommand& c) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(c.op));
  w.bytes(c.key);
  if (c.op == KvCommand::Op::put) w.bytes(c.value);
  if (c.op == KvCommand::Op::add) w.i64(c.delta);
  return std::move(w.str());
}

std::optional<KvCommand> decode_kv_command(std::string_view data) {
  Reader r(data);
  KvCommand c;
  std::uint8_t op = r.u8();
  c.key = r.bytes();
  switch (op) {
    case static_cast<std::uint8_t>(KvCommand::Op::put):
      c.op = KvCommand::Op::put;
      c.value = r.bytes();
      break;
    case static_cast<std::uint8_t>(KvCommand::Op::erase): c.op = KvCommand::Op::erase; break;
    case static_cast<std::uint8_t>(KvCommand::Op::add):
      c.op = KvCommand::Op::add;
      c.delta = r.i64();
      break;
    default: return std::nullopt;
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return c;
}

void KvStore::bootstrap() {
  std::unique_lock lock(mutex_);
  data_.clear();
  outcomes_.clear();
}

void KvStore::join(Index, SnapshotReader& snapshot) {
  std::string bytes = snapshot.read_all();
  Reader r(bytes);
  std::map<std::string, std::string> data;
  std::uint64_t count = r.u64();
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    std::string key = r.bytes();
    data[std::move(key)] = r.bytes();
  }
  // A snapshot this handler cannot read would silently lose state: refuse.
  if (!r.ok() || !r.at_end()) throw std::runtime_error("kv: the snapshot to join from is corrupt");
  std::unique_lock lock(mutex_);
  data_ = std::move(data);
  outcomes_.clear();
}

void KvStore::entry(Index index, Term, std::string_view data) {
  auto command = decode_kv_command(data);
  // Every replica refuses the same malformed entry the same way.
  KvOutcome outcome = command ? apply(*command) : KvOutcome{false, "not a kv command"};
  std::unique_lock lock(mutex_);
  outcomes_.record(index, std::move(outcome));
}

KvOutcome KvStore::apply(const KvCommand& c) {
  std::unique_lock lock(mutex_);
  switch (c.op) {
    case KvCommand::Op::put: data_[c.key] = c.value; return {};
    case KvCommand::Op::erase: return KvOutcome{data_.erase(c.key) == 1, {}};
    case KvCommand::Op::add: {
      std::int64_t current = 0;
      auto it = data_.find(c.key);
      if (it != data_.end()) {
        const std::string& v = it->second;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), current);
        if (ec != std::errc() || end != v.data() + v.size()) return KvOutcome{false, "the value is not an integer"};
      }
      std::int64_t sum = 0;
      if (__builtin_add_overflow(current, c.delta, &sum)) return KvOutcome{false, "the sum overflows 64 bits"};
      std::string next = std::to_string(sum);
      data_[c.key] = next;
      return KvOutcome{true, next};
    }
  }
  return KvOutcome{false, "unknown operation"};
}

void KvStore::snapshot(Index, SnapshotWriter& out) {
  Writer w;
  std::shared_lock lock(mutex_);
  w.u64(data_.size());
  for (const auto& [key, value] : data_) {
    w.bytes(key);
    w.bytes(value);
  }
  lock.unlock();
  out.write(w.str());
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> KvStore::list() const {
  std::shared_lock lock(mutex_);
  return {data_.begin(), data_.end()};
}

std::optional<KvOutcome> KvStore::outcome(Index index) const {
  std::shared_lock lock(mutex_);
  return outcomes_.find(index);
}

}  // namespace conclave::examples
