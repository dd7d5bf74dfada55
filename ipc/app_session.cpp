// One application connection: schema/app.capnp in, AppService calls out;
// answers and stream events back as FromSidecar frames.
#include "ipc/app_session.h"

#include <spdlog/spdlog.h>

#include "ipc/app_server.h"
#include "schema/app.capnp.h"

namespace conclave::ipc {

namespace app = conclave::schema::app;

namespace {

app::ErrorCode to_capnp(AppError e) {
  switch (e) {
    case AppError::kNone: return app::ErrorCode::NONE;
    case AppError::kNoLeader: return app::ErrorCode::NO_LEADER;
    case AppError::kUnknown: return app::ErrorCode::UNKNOWN;
    case AppError::kRejected: return app::ErrorCode::REJECTED;
    case AppError::kTimeout: return app::ErrorCode::TIMEOUT;
    case AppError::kMalformed: return app::ErrorCode::MALFORMED;
    case AppError::kShuttingDown: return app::ErrorCode::SHUTTING_DOWN;
    case AppError::kInternal: return app::ErrorCode::INTERNAL;
    case AppError::kForbidden: return app::ErrorCode::FORBIDDEN;
    case AppError::kVersion: return app::ErrorCode::VERSION;
  }
  return app::ErrorCode::INTERNAL;
}

void fill_member(app::Member::Builder out, const AppMember& m) {
  out.setIndex(m.index);
  out.setNode(m.node);
  out.setAddress(m.address);
}

void fill_status(app::Status::Builder out, const AppStatus& s) {
  out.setNodeId(s.node_id);
  out.setClusterId(s.cluster_id);
  out.setRole(s.role);
  out.setTerm(s.term);
  out.setLeader(s.leader);
  out.setCommitIndex(s.commit_index);
  out.setStreamedIndex(s.streamed_index);
  out.setAppliedIndex(s.applied_index);
  out.setLastIndex(s.last_index);
  out.setSnapshotIndex(s.snapshot_index);
  auto members = out.initMembers(static_cast<unsigned>(s.members.size()));
  for (unsigned i = 0; i < s.members.size(); ++i) fill_member(members[i], s.members[i]);
}

capnp::Data::Reader bytes_of(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

void fill_entry(app::Entry::Builder out, const EntryView& e) {
  out.setIndex(e.index);
  out.setTerm(e.term);
  out.setData(bytes_of(e.data));
  out.setSession(e.session);
  out.setSeq(e.seq);
}

// Fills one FromSidecar from a stream event.
struct EventEncoder {
  app::FromSidecar::Builder out;
  void operator()(const event::Bootstrap&) { out.setBootstrap(); }
  void operator()(const event::Join& e) {
    auto j = out.initJoin();
    j.setIndex(e.index);
    j.setTerm(e.term);
    j.setBytes(e.bytes);
  }
  void operator()(const event::JoinChunk& e) {
    auto c = out.initJoinChunk();
    c.setOffset(e.offset);
    c.setData(bytes_of(e.data));
    c.setDone(e.done);
  }
  void operator()(const event::Arrive& e) { fill_member(out.initArrive(), e.member); }
  void operator()(const event::Depart& e) { fill_member(out.initDepart(), e.member); }
  void operator()(const event::Acclimated& e) { out.initAcclimated().setIndex(e.index); }
  void operator()(const event::SnapshotRequest& e) { out.initSnapshot().setIndex(e.index); }
  void operator()(const event::Passed& e) { out.setPassed(e.index); }
};

// Fills an Answer's result.
struct ResultEncoder {
  app::Answer::Builder out;
  void operator()(const std::monostate&) { out.setNone(); }
  void operator()(const AppAttached& a) {
    auto b = out.initAttached();
    b.setVersion(app::K_VERSION);
    b.setNodeId(a.node_id);
    b.setClusterId(a.cluster_id);
    b.setLeader(a.leader);
    b.setCommitIndex(a.commit_index);
  }
  void operator()(const AppCommitted& c) {
    auto b = out.initCommitted();
    b.setIndex(c.index);
    b.setTerm(c.term);
  }
  void operator()(std::uint64_t read_index) { out.setReadIndex(read_index); }
  void operator()(const AppStatus& s) { fill_status(out.initStatus(), s); }
};

std::string as_string(capnp::Data::Reader data) { return std::string(data.asChars().begin(), data.size()); }

}  // namespace

AppSession::AppSession(AppServer& server, boost::asio::local::stream_protocol::socket socket, std::uint64_t number,
                       std::string peer)
    : FramedConnection(std::move(socket), "application session " + std::to_string(number),
                       server.options().frame_bytes_max),
      server_(&server),
      peer_(std::move(peer)) {}

std::shared_ptr<AppSession> AppSession::self() {
  return std::static_pointer_cast<AppSession>(shared_from_this());
}

void AppSession::refuse(AppError code, const std::string& reason) { close(code, reason); }

void AppSession::send(const AppEvent& event) {
  if (closing()) return;
  encode_waiting_answers();
  framing::FrameBuilder message;
  auto out = message.init_root<app::FromSidecar>();
  std::visit(EventEncoder{out}, event);
  queue(message.message());
  check_backlog();
}

void AppSession::send_entries(std::span<const EntryView> entries) {
  if (closing() || entries.empty()) return;
  encode_waiting_answers();
  if (!batches_) {
    for (const EntryView& e : entries) {
      framing::FrameBuilder message;
      fill_entry(message.init_root<app::FromSidecar>().initEntry(), e);
      enqueue(message.message());
    }
    flush();
    return check_backlog();
  }
  // The whole list in the first segment: the root and the list's tag, then
  // per entry its struct (four words of data, one pointer) and its bytes.
  std::size_t words = 8;
  for (const EntryView& e : entries) words += 5 + (e.data.size() + sizeof(capnp::word) - 1) / sizeof(capnp::word);
  framing::FrameBuilder message(words);
  auto list = message.init_root<app::FromSidecar>().initEntries(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) fill_entry(list[i], entries[i]);
  queue(message.message());
  check_backlog();
}

void AppSession::check_backlog() {
  if (FramedConnection::queued_bytes() > server_->options().queued_bytes_max) {
    spdlog::warn("{} is not reading what it is sent ({} bytes queued); closing it", label(),
                 FramedConnection::queued_bytes());
    FramedConnection::close();
  }
}

void AppSession::close(AppError code, const std::string& reason) {
  if (closing()) return;
  encode_waiting_answers();
  capnp::MallocMessageBuilder message;
  auto c = message.initRoot<app::FromSidecar>().initClosing();
  c.setError(to_capnp(code));
  c.setReason(reason);
  queue(message);
  finish_after_writes();
}

void AppSession::violation(const std::string& why) {
  spdlog::warn("{} ({}) broke the protocol: {}; closing it", label(), peer_, why);
  close(AppError::kMalformed, why);
}

void AppSession::on_protocol_error(const std::string& why) {
  close(AppError::kMalformed, why + "; send one schema/app.capnp ToSidecar message per frame");
}

void AppSession::on_drained() {
  if (attached_) server_->service().app_writable(self());
}

void AppSession::on_closed() {
  if (attached_) server_->service().app_detached(self());
  server_->session_closed(self());
}

AppReplyFn AppSession::reply_for(std::uint64_t id) {
  ++in_flight_;
  std::weak_ptr<AppSession> weak = self();
  return [weak, id](AppAnswer a) {
    auto s = weak.lock();
    if (!s || s->closing()) return;
    --s->in_flight_;
    s->answer(id, std::move(a));
  };
}

void AppSession::answer(std::uint64_t id, AppAnswer a) {
  waiting_answers_.emplace_back(id, std::move(a));
  // Alone, or to an application that reads only single answers, it goes
  // now; while a write runs, answers gather for the next (before_write).
  if (!batches_) encode_waiting_answers();
  flush();
}

void AppSession::before_write() { encode_waiting_answers(); }

void AppSession::encode_waiting_answers() {
  if (waiting_answers_.empty()) return;
  auto fill = [](app::Answer::Builder out, std::uint64_t id, const AppAnswer& a) {
    out.setId(id);
    out.setError(to_capnp(a.error));
    out.setReason(a.reason);
    std::visit(ResultEncoder{out}, a.result);
  };
  if (waiting_answers_.size() == 1 || !batches_) {
    for (const auto& [id, a] : waiting_answers_) {
      framing::FrameBuilder message;
      fill(message.init_root<app::FromSidecar>().initAnswer(), id, a);
      enqueue(message.message());
    }
  } else {
    framing::FrameBuilder message(8 + 8 * waiting_answers_.size());
    auto list = message.init_root<app::FromSidecar>().initAnswers(static_cast<unsigned>(waiting_answers_.size()));
    for (unsigned i = 0; i < waiting_answers_.size(); ++i) {
      fill(list[i], waiting_answers_[i].first, waiting_answers_[i].second);
    }
    enqueue(message.message());
  }
  waiting_answers_.clear();
}

void AppSession::on_frame(Frame& frame) {
  auto m = frame.root<app::ToSidecar>();
  const std::uint64_t id = m.getId();
  const auto which = m.which();
  AppService& service = server_->service();

  if (!attach_sent_) {
    if (which != app::ToSidecar::ATTACH) return violation("the first message must be attach");
    if (id == 0) return violation("attach is a request: give it a non-zero id");
    auto a = m.getAttach();
    attach_sent_ = true;
    if (a.getVersion() != app::K_VERSION) {
      spdlog::warn("{} ({}) speaks protocol version {}; this sidecar speaks {}", label(), peer_, a.getVersion(),
                   app::K_VERSION);
      answer(id, AppAnswer::failure(AppError::kVersion, "this sidecar speaks protocol version " +
                                                            std::to_string(app::K_VERSION) + ", not " +
                                                            std::to_string(a.getVersion())));
      return finish_after_writes();
    }
    attached_ = true;
    batches_ = a.getBatches();
    spdlog::info("{} ({}) attached as '{}' with applied index {}", label(), peer_, a.getName().cStr(),
                 a.getAppliedIndex());
    return service.app_attach(self(), AttachRequest{a.getName(), a.getAppliedIndex()}, reply_for(id));
  }

  const bool is_notice = which == app::ToSidecar::APPLIED ||
                         (which == app::ToSidecar::SNAPSHOT_CHUNK && !m.getSnapshotChunk().getDone());
  if (is_notice && id != 0) return violation("applied and snapshot chunks before the last are notices: id must be 0");
  if (!is_notice && id == 0) return violation("a request must have a non-zero id");
  if (!is_notice && in_flight_ >= server_->options().requests_in_flight_max) {
    return answer(id, AppAnswer::failure(AppError::kRejected,
                                         "too many requests in flight on this session (" +
                                             std::to_string(in_flight_) + "); wait for answers before sending more"));
  }

  switch (which) {
    case app::ToSidecar::ATTACH:
      return violation("attach was already sent on this session");
    case app::ToSidecar::PROPOSE: {
      auto p = m.getPropose();
      if (p.getSession() != 0 && (p.getSeq() == 0 || p.getFloor() > p.getSeq())) {
        return violation("a proposal with a session needs seq >= 1 and floor <= seq");
      }
      return service.app_propose(self(), ProposeRequest{p.getSession(), p.getSeq(), p.getFloor(),
                                                        as_string(p.getData())},
                                 reply_for(id));
    }
    case app::ToSidecar::BARRIER:
      return service.app_barrier(self(), reply_for(id));
    case app::ToSidecar::STATUS:
      return service.app_status(self(), reply_for(id));
    case app::ToSidecar::APPLIED:
      return service.app_applied(self(), m.getApplied());
    case app::ToSidecar::SNAPSHOT_CHUNK: {
      auto c = m.getSnapshotChunk();
      if (c.getDone() && c.hasFailed() && c.getFailed().size() > 0) {
        return service.app_snapshot_failed(self(), c.getIndex(), c.getFailed(), reply_for(id));
      }
      std::optional<AppReplyFn> reply;
      if (c.getDone()) reply = reply_for(id);
      return service.app_snapshot_chunk(self(), c.getIndex(), as_string(c.getData()), c.getDone(), std::move(reply));
    }
  }
  violation("unknown message type; this sidecar may be older than your client library");
}

}  // namespace conclave::ipc
