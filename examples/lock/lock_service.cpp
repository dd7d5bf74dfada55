// Routing and waiting for leases; see lock_service.h. Waiting is the
// proposer's business: it retries its acquire until wait_ms passes, each
// attempt stamped with its own clock; the log decides who wins.
#include "lock_service.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "../common/local_apply.h"

namespace conclave::examples {

namespace {

std::uint64_t wall_clock_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::optional<std::uint64_t> number(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return v;
}

constexpr std::chrono::milliseconds kRetryMax{200};

}  // namespace

LockOutcome LockService::commit(const LockCommand& command) {
  Index index = commit_and_apply(client_, encode(command), timeout_);
  auto outcome = table_.outcome(index);
  if (!outcome) throw Error(ErrorCode::timeout, "the outcome of entry " + std::to_string(index) + " is no longer known");
  return *outcome;
}

HttpAnswer LockService::acquire(const std::string& key, const HttpRequest& r) {
  auto lease_ms = number(query_param(r.query, "lease_ms"));
  if (!lease_ms || *lease_ms == 0) return {400, "lease_ms=<milliseconds> is required\n"};
  std::uint64_t wait_ms = number(query_param(r.query, "wait_ms")).value_or(0);
  if (r.body.empty()) return {400, "the body names the owner\n"};
  auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    std::uint64_t now_ms = wall_clock_ms();
    LockOutcome out = commit(LockCommand{LockCommand::Op::acquire, key, r.body, now_ms, *lease_ms, 0});
    if (out.granted) return {200, std::to_string(out.lease.token) + "\n"};
    auto now = std::chrono::steady_clock::now();
    if (now >= give_up) {
      return {409, out.reason + " (token " + std::to_string(out.lease.token) + ") until " +
                       std::to_string(out.lease.expires_ms) + " ms\n"};
    }
    // Try again around the holder's expiry, but poll at least this often:
    // it may release early.
    auto until_expiry = std::chrono::milliseconds(out.lease.expires_ms > now_ms ? out.lease.expires_ms - now_ms : 1);
    auto pause = std::min({until_expiry, kRetryMax,
                           std::chrono::duration_cast<std::chrono::milliseconds>(give_up - now) +
                               std::chrono::milliseconds(1)});
    std::this_thread::sleep_for(pause);
  }
}

HttpAnswer LockService::handle(const HttpRequest& r) {
  try {
    if (r.path.rfind("/lock/", 0) != 0 || r.path.size() == 6) return {404, "routes: /lock/<key>\n"};
    std::string key = r.path.substr(6);
    if (r.method == "POST") return acquire(key, r);
    if (r.method == "DELETE") {
      auto token = number(query_param(r.query, "token"));
      if (!token) return {400, "token=<fencing token> is required\n"};
      LockOutcome out = commit(LockCommand{LockCommand::Op::release, key, {}, 0, 0, *token});
      return out.granted ? HttpAnswer{204, {}} : HttpAnswer{409, out.reason + "\n"};
    }
    if (r.method == "GET") {
      catch_up_for_read(client_, timeout_);
      auto lease = table_.holder(key);
      if (!lease) return {404, "free\n"};
      return {200, lease->owner + " " + std::to_string(lease->token) + " " + std::to_string(lease->expires_ms) + "\n"};
    }
    return {405, "methods: POST, DELETE, GET\n"};
  } catch (const Error& e) {
    return answer_for(e);
  }
}

}  // namespace conclave::examples
