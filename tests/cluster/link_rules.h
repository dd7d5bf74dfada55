// The faults a cluster test injects between nodes, per ordered pair
// (src, dst): "src's connection to dst" is what a rule governs, which in
// the peer protocol is exactly the traffic src sends to dst (each node only
// sends on connections it dialed; see schema/peer.capnp, TRANSPORT). A
// symmetric partition is therefore two rules, (a, b) and (b, a).
//
// The table is read by the proxy's I/O thread and written by the test's
// thread, hence the mutex; a rule read is a copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

namespace conclave::cluster_test {

struct LinkRule {
  bool blocked = false;
  // Added before each chunk of bytes is passed on (in both directions of
  // the connection), to model a slow link rather than a cut one.
  std::chrono::milliseconds delay{0};
  bool operator==(const LinkRule&) const = default;
};

class LinkRules {
 public:
  LinkRule get(std::uint64_t src, std::uint64_t dst) const {
    std::lock_guard lock(mu_);
    auto it = rules_.find({src, dst});
    return it == rules_.end() ? LinkRule{} : it->second;
  }
  void set(std::uint64_t src, std::uint64_t dst, LinkRule rule) {
    std::lock_guard lock(mu_);
    if (rule == LinkRule{}) {
      rules_.erase({src, dst});
    } else {
      rules_[{src, dst}] = rule;
    }
  }
  // Every pair connected, without delay.
  void clear() {
    std::lock_guard lock(mu_);
    rules_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, LinkRule> rules_;
};

}  // namespace conclave::cluster_test
