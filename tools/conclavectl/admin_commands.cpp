// conclavectl's online commands: status (of one node, or the whole cluster as
// its leader sees it), propose, members, transfer-leader, snapshot.
// Failures print what happened and what to do, on stderr (and as the JSON
// object on stdout with --json, so scripts always get one object).
#include "tools/conclavectl/admin_commands.h"

#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/conclavectl/json_writer.h"

namespace conclave::ctl {

namespace {

using admin::Response;

// Left-aligned columns, each as wide as its widest cell.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
  return out.str();
}

int fail_transport(const OnlineOptions& options, const std::string& message) {
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", false).field("error", "unreachable").field("reason", message).end_object();
    std::cout << j.str() << '\n';
  }
  std::cerr << "conclavectl: " << message << '\n';
  return 1;
}

int fail_refused(const OnlineOptions& options, const RoutedAnswer& routed) {
  const Response& r = routed.answer.value();
  const std::string advice = what_to_do(r, options.node_sockets, routed.asked);
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", false).field("error", admin::to_string(r.error)).field("reason", r.reason);
    if (r.leader_hint != 0) j.field("leader", r.leader_hint).field("leader_address", r.leader_address);
    j.field("socket", routed.socket);
    if (!advice.empty()) j.field("what_to_do", advice);
    j.end_object();
    std::cout << j.str() << '\n';
  }
  std::cerr << "conclavectl: the sidecar at " << routed.socket << " refused: " << r.describe_error() << '\n';
  if (!advice.empty()) std::cerr << "conclavectl: " << advice << '\n';
  return 1;
}

// Calls the sidecar, following a leader hint where the leader's socket is
// known; on failure prints and returns the exit code in `rc`.
bool call(const OnlineOptions& options, const admin::Request& request, Response& out, int& rc) {
  auto routed = call_following_leader(options.socket_path, options.node_sockets, request, options.timeout, std::cerr);
  if (!routed.answer) {
    rc = fail_transport(options, routed.answer.error());
    return false;
  }
  if (!routed.answer->ok()) {
    rc = fail_refused(options, routed);
    return false;
  }
  out = std::move(routed.answer.value());
  return true;
}

// Asks for the status; on failure prints and returns the exit code in `rc`.
std::optional<admin::Status> fetch_status(const OnlineOptions& options, int& rc) {
  Response r;
  if (!call(options, admin::StatusRequest{}, r, rc)) return std::nullopt;
  auto* s = std::get_if<admin::Status>(&r.body);
  if (s == nullptr) {
    rc = fail_transport(options, "the sidecar answered status without a status: see its log");
    return std::nullopt;
  }
  return std::move(*s);
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

void members_json(JsonWriter& j, const admin::Status& s) {
  j.key("members").begin_array();
  for (const auto& m : s.members) {
    j.begin_object()
        .field("id", m.id)
        .field("address", m.address)
        .field("voter", m.voter)
        .field("match", m.match)
        .field("next", m.next)
        .field("state", m.state)
        .field("recently_active", m.recently_active)
        .field("lag", m.lag)
        .field("sending_snapshot", m.sending_snapshot)
        .key("heard_ms_ago");
    if (m.heard) {
      j.value(m.heard_ago_ms);
    } else {
      j.null();
    }
    j.end_object();
  }
  j.end_array();
}

std::string members_table(const admin::Status& s) {
  // Progress columns only mean something on the leader.
  const bool progress = s.role == "leader";
  std::vector<std::vector<std::string>> rows;
  if (progress) {
    rows.push_back({"ID", "ADDRESS", "VOTER", "MATCH", "NEXT", "STATE", "ACTIVE", "LAG"});
  } else {
    rows.push_back({"ID", "ADDRESS", "VOTER"});
  }
  for (const auto& m : s.members) {
    std::string id = std::to_string(m.id) + (m.id == s.node_id ? "*" : "");
    if (progress) {
      rows.push_back({id, m.address, yes_no(m.voter), std::to_string(m.match), std::to_string(m.next), m.state,
                      yes_no(m.recently_active), std::to_string(m.lag)});
    } else {
      rows.push_back({id, m.address, yes_no(m.voter)});
    }
  }
  return table(rows);
}

// "0.4 s ago", "never" (not since the answering node started), or "-" for
// the answering node itself.
std::string heard_text(const admin::Member& m, std::uint64_t self) {
  if (m.id == self) return "-";
  if (!m.heard) return "never";
  const std::uint64_t tenths = (m.heard_ago_ms + 50) / 100;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s ago";
}

}  // namespace

int run_cluster_status(const OnlineOptions& options) {
  Response r;
  int rc = 0;
  if (!call(options, admin::ClusterStatusRequest{}, r, rc)) return rc;
  const auto* s = std::get_if<admin::Status>(&r.body);
  if (s == nullptr) return fail_transport(options, "the sidecar answered without a status: see its log");
  if (options.json) {
    JsonWriter j;
    j.begin_object()
        .field("ok", true)
        .field("cluster_id", s->cluster_id)
        .field("leader", s->node_id)
        .field("term", s->term)
        .field("commit_index", s->commit_index)
        .field("last_index", s->last_index);
    members_json(j, *s);
    j.end_object();
    std::cout << j.str() << '\n';
    return 0;
  }
  std::cout << "cluster " << s->cluster_id << " as its leader, node " << s->node_id << ", sees it (term " << s->term
            << ", commit " << s->commit_index << ", last index " << s->last_index << "):\n\n";
  std::vector<std::vector<std::string>> rows{
      {"ID", "ADDRESS", "VOTER", "STATE", "MATCH", "LAG", "ACTIVE", "LAST HEARD", "SNAPSHOT"}};
  for (const auto& m : s->members) {
    rows.push_back({std::to_string(m.id) + (m.id == s->node_id ? "*" : ""), m.address, yes_no(m.voter), m.state,
                    std::to_string(m.match), std::to_string(m.lag), yes_no(m.recently_active),
                    heard_text(m, s->node_id), m.sending_snapshot ? "sending" : "no"});
  }
  std::cout << table(rows);
  return 0;
}

int run_status(const OnlineOptions& options) {
  int rc = 0;
  const auto s = fetch_status(options, rc);
  if (!s) return rc;
  if (options.json) {
    JsonWriter j;
    j.begin_object()
        .field("ok", true)
        .field("node_id", s->node_id)
        .field("cluster_id", s->cluster_id)
        .field("role", s->role)
        .field("term", s->term)
        .field("leader", s->leader)
        .field("commit_index", s->commit_index)
        .field("applied_index", s->applied_index)
        .field("last_index", s->last_index)
        .field("durable_index", s->durable_index)
        .field("snapshot_index", s->snapshot_index);
    members_json(j, *s);
    j.end_object();
    std::cout << j.str() << '\n';
    return 0;
  }
  std::cout << table({
      {"node", std::to_string(s->node_id)},
      {"cluster", s->cluster_id},
      {"role", s->role},
      {"term", std::to_string(s->term)},
      {"leader", s->leader == 0 ? "none" : std::to_string(s->leader)},
      {"commit", std::to_string(s->commit_index)},
      {"applied", std::to_string(s->applied_index)},
      {"last", std::to_string(s->last_index)},
      {"durable", std::to_string(s->durable_index)},
      {"snapshot", std::to_string(s->snapshot_index)},
  });
  std::cout << '\n' << members_table(*s);
  return 0;
}

int run_propose(const OnlineOptions& options, const std::string& data) {
  return run_indexed(options, admin::ProposeRequest{data}, "committed");
}

int run_indexed(const OnlineOptions& options, const admin::Request& request, const std::string& what) {
  Response r;
  int rc = 0;
  if (!call(options, request, r, rc)) return rc;
  const auto* c = std::get_if<admin::Committed>(&r.body);
  if (c == nullptr) return fail_transport(options, "the sidecar answered without an index: see its log");
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", true).field("index", c->index).field("term", c->term).end_object();
    std::cout << j.str() << '\n';
  } else {
    std::cout << what << " at index " << c->index << " (term " << c->term << ")\n";
  }
  return 0;
}

int run_members_list(const OnlineOptions& options) {
  int rc = 0;
  const auto s = fetch_status(options, rc);
  if (!s) return rc;
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", true).field("node_id", s->node_id).field("role", s->role);
    members_json(j, *s);
    j.end_object();
    std::cout << j.str() << '\n';
  } else {
    std::cout << members_table(*s);
  }
  return 0;
}

int run_simple(const OnlineOptions& options, const admin::Request& request, const std::string& done_text) {
  Response r;
  int rc = 0;
  if (!call(options, request, r, rc)) return rc;
  if (options.json) {
    JsonWriter j;
    j.begin_object().field("ok", true).end_object();
    std::cout << j.str() << '\n';
  } else {
    std::cout << done_text << '\n';
  }
  return 0;
}

}  // namespace conclave::ctl
