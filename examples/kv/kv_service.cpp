// Routing and the read/write paths of conclave-kv; see kv_service.h.
#include "kv_service.h"

#include <charconv>

#include "../common/local_apply.h"

namespace conclave::examples {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

KvOutcome KvService::commit(const KvCommand& command) {
  Index index = commit_and_apply(client_, encode(command), timeout_);
  // Applied here means recorded, unless so many entries followed that it
  // left the bounded outcome window; it did commit, so report success.
  return store_.outcome(index).value_or(KvOutcome{});
}

HttpAnswer KvService::handle(const HttpRequest& r) {
  try {
    bool stale = r.query == "stale" || r.query.rfind("stale=", 0) == 0;
    if (r.path == "/kv" || r.path == "/kv/") {
      if (r.method != "GET") return {405, "only GET on /kv\n"};
      if (!stale) catch_up_for_read(client_, timeout_);
      std::string body;
      for (const auto& [key, value] : store_.list()) body += key + "=" + value + "\n";
      return {200, body};
    }
    if (r.path.rfind("/kv/", 0) != 0) return {404, "routes: /kv and /kv/<key>\n"};
    std::string key = r.path.substr(4);

    if (r.method == "POST" && (ends_with(key, "/inc") || ends_with(key, "/dec"))) {
      bool inc = ends_with(key, "/inc");
      key.resize(key.size() - 4);
      std::int64_t amount = 1;
      if (!r.body.empty()) {
        auto [end, ec] = std::from_chars(r.body.data(), r.body.data() + r.body.size(), amount);
        if (ec != std::errc() || end != r.body.data() + r.body.size()) return {400, "the body must be an integer\n"};
      }
      KvOutcome out = commit(KvCommand{KvCommand::Op::add, key, {}, inc ? amount : -amount});
      return out.ok ? HttpAnswer{200, out.value + "\n"} : HttpAnswer{409, out.value + "\n"};
    }
    if (key.empty()) return {400, "empty key\n"};
    if (r.method == "PUT") {
      commit(KvCommand{KvCommand::Op::put, key, r.body, 0});
      return {204, {}};
    }
    if (r.method == "DELETE") {
      KvOutcome out = commit(KvCommand{KvCommand::Op::erase, key, {}, 0});
      return out.ok ? HttpAnswer{204, {}} : HttpAnswer{404, "no such key\n"};
    }
    if (r.method == "GET") {
      if (!stale) catch_up_for_read(client_, timeout_);
      auto value = store_.get(key);
      return value ? HttpAnswer{200, *value} : HttpAnswer{404, "no such key\n"};
    }
    return {405, "methods: GET, PUT, DELETE, POST .../inc|dec\n"};
  } catch (const Error& e) {
    return answer_for(e);
  }
}

}  // namespace conclave::examples
