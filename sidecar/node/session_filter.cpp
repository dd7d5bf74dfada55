#include "sidecar/node/session_filter.h"

#include <cstring>

namespace conclave::node {

bool SessionFilter::admit(std::uint64_t index, std::uint64_t session, std::uint64_t seq, std::uint64_t floor) {
  if (session == 0) return true;
  auto [it, inserted] = sessions_.try_emplace(session);
  Session& s = it->second;
  if (!inserted) by_activity_.erase(s.last_index);
  s.last_index = index;
  by_activity_[index] = session;
  if (floor > s.floor) {
    s.floor = floor;
    s.seen.erase(s.seen.begin(), s.seen.lower_bound(floor));
  }
  bool fresh = seq >= s.floor && s.seen.insert(seq).second;
  if (s.seen.size() > kSeqsMax) s.seen.erase(s.seen.begin());
  if (sessions_.size() > kSessionsMax) forget_least_recent();
  return fresh;
}

void SessionFilter::forget_least_recent() {
  auto oldest = by_activity_.begin();
  sessions_.erase(oldest->second);
  by_activity_.erase(oldest);
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
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id = 0, n = 0;
    Session s;
    if (!get64(in, id) || !get64(in, s.floor) || !get64(in, s.last_index) || !get64(in, n)) return std::nullopt;
    if (id == 0 || n > kSeqsMax || f.by_activity_.count(s.last_index)) return std::nullopt;
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint64_t seq = 0;
      if (!get64(in, seq)) return std::nullopt;
      s.seen.insert(seq);
    }
    f.by_activity_[s.last_index] = id;
    if (!f.sessions_.emplace(id, std::move(s)).second) return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  return f;
}

bool SessionFilter::operator==(const SessionFilter& other) const { return sessions_ == other.sessions_; }

}  // namespace conclave::node
