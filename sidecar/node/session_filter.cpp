#include "sidecar/node/session_filter.h"

#include <algorithm>
#include <set>
#include <vector>

namespace conclave::node {

bool SessionFilter::admit(std::uint64_t index, std::uint64_t session, std::uint64_t seq, std::uint64_t floor) {
  if (session == 0) return true;
  Session& s = sessions_[session];
  s.last_index = index;
  activity_.emplace_back(index, session);
  if (floor > s.floor) {
    s.floor = floor;
    s.seen.erase(s.seen.begin(), std::lower_bound(s.seen.begin(), s.seen.end(), floor));
  }
  bool fresh = false;
  if (seq >= s.floor) {
    if (s.seen.empty() || seq > s.seen.back()) {
      s.seen.push_back(seq);
      fresh = true;
    } else if (auto at = std::lower_bound(s.seen.begin(), s.seen.end(), seq); *at != seq) {
      s.seen.insert(at, seq);
      fresh = true;
    }
  }
  if (s.seen.size() > kSeqsMax) s.seen.pop_front();
  if (sessions_.size() > kSessionsMax) forget_least_recent();
  // Stale records are dropped once they outnumber the live ones.
  if (activity_.size() > 2 * sessions_.size() + 1024) compact_activity();
  return fresh;
}

void SessionFilter::forget_least_recent() {
  while (!activity_.empty()) {
    const auto [index, session] = activity_.front();
    activity_.pop_front();
    auto it = sessions_.find(session);
    if (it != sessions_.end() && it->second.last_index == index) {
      sessions_.erase(it);
      return;
    }
  }
}

void SessionFilter::compact_activity() {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> live;
  live.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) live.emplace_back(s.last_index, id);
  std::sort(live.begin(), live.end());
  activity_.assign(live.begin(), live.end());
}

namespace {

void put64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}

bool get64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(8);
  return true;
}

}  // namespace

// count | per session: id, floor, last_index, seen count, seen...
std::string SessionFilter::encode() const {
  std::string out;
  put64(out, sessions_.size());
  for (const auto& [id, s] : sessions_) {
    put64(out, id);
    put64(out, s.floor);
    put64(out, s.last_index);
    put64(out, s.seen.size());
    for (std::uint64_t seq : s.seen) put64(out, seq);
  }
  return out;
}

std::optional<SessionFilter> SessionFilter::decode(std::string_view in) {
  SessionFilter f;
  std::uint64_t count = 0;
  if (!get64(in, count) || count > kSessionsMax) return std::nullopt;
  std::set<std::uint64_t> last_indexes;  // no two sessions were last active at one index
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id = 0, n = 0;
    Session s;
    if (!get64(in, id) || !get64(in, s.floor) || !get64(in, s.last_index) || !get64(in, n)) return std::nullopt;
    if (id == 0 || n > kSeqsMax || !last_indexes.insert(s.last_index).second) return std::nullopt;
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint64_t seq = 0;
      if (!get64(in, seq)) return std::nullopt;
      // encode writes them ascending; the old std::set form did too.
      if (!s.seen.empty() && seq <= s.seen.back()) return std::nullopt;
      s.seen.push_back(seq);
    }
    if (!f.sessions_.emplace(id, std::move(s)).second) return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  f.compact_activity();
  return f;
}

bool SessionFilter::operator==(const SessionFilter& other) const { return sessions_ == other.sessions_; }

}  // namespace conclave::node
