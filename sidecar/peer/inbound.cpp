// The acceptor's side of a peer connection. See inbound.h.
#include "sidecar/peer/inbound.h"

#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sidecar/peer/frames.h"
#include "sidecar/peer/handshake.h"
#include "sidecar/peer/status_frames.h"
#include "sidecar/peer/tls.h"

namespace conclave::peer {

namespace asio = boost::asio;
using boost::system::error_code;
namespace wire = schema::peer;

Inbound::Inbound(std::shared_ptr<PeerContext> ctx, asio::ip::tcp::socket socket)
    : ctx_(std::move(ctx)), stream_(std::move(socket), ctx_->tls.get()),
      reader_(ctx_->options.frame_bytes_max),
      idle_timer_(ctx_->io) {
  error_code ec;
  auto endpoint = stream_.socket().remote_endpoint(ec);
  remote_ = ec ? std::string("an unknown address")
               : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

std::string Inbound::name() const {
  if (state_ == State::kAwaitingHello) return fmt::format("connection from {}", remote_);
  return fmt::format("{} {} (from {})", state_ == State::kJoiner ? "joiner" : "peer",
                     peer_.value(), remote_);
}

void Inbound::start() {
  error_code ignored;
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  // The idle timeout bounds the TLS handshake too.
  arm_idle_timer();
  stream_.async_handshake(PeerStream::Tls::server, [self = shared_from_this()](error_code ec) {
    if (self->ctx_->stopped || self->state_ != State::kAwaitingHello) return;
    self->on_tls_handshake(ec);
  });
}

void Inbound::on_tls_handshake(const error_code& ec) {
  // Nothing has been read from a peer whose certificate was refused.
  if (ec) return close(tls_failure_reason(stream_.native_handle(), ec));
  nonce_ = make_nonce();
  write(challenge_frame(nonce_), false);
  read_next();
}

void Inbound::arm_idle_timer() {
  idle_timer_.expires_after(ctx_->options.idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->ctx_->stopped) return;
    if (self->stream_.tls() && self->nonce_.empty()) {
      // A plaintext dialer waits for our challenge as we wait for its TLS hello.
      return self->close(fmt::format(
          "TLS handshake failed: none within {} ms (idle_timeout); is the peer configured for TLS?",
          self->ctx_->options.idle_timeout.count()));
    }
    self->close(fmt::format("nothing received for {} ms (idle_timeout)",
                            self->ctx_->options.idle_timeout.count()));
  });
}

void Inbound::read_next() {
  // Every frame already read is handled here, before the next read, so a
  // burst costs the node one drain (stream_framing.h, BATCHING).
  for (;;) {
    if (state_ == State::kClosing || state_ == State::kClosed || ctx_->stopped) return;
    framing::FrameReadResult r = reader_.next();
    if (r.needs_bytes()) break;
    if (!r.ok()) return close(r.protocol_error);
    on_frame(*r.frame);
  }
  reader_.async_fill(stream_, [self = shared_from_this()](error_code ec) {
    if (self->ctx_->stopped || self->state_ == State::kClosed || self->state_ == State::kClosing) return;
    if (ec) {
      const bool eof = ec == asio::error::eof;
      return self->close(eof ? (self->state_ == State::kAwaitingHello ? "closed before its hello" : "")
                             : "read failed: " + ec.message());
    }
    self->read_next();
  });
}

void Inbound::on_frame(framing::InboundFrame& in) {
  arm_idle_timer();
  if (state_ == State::kMember) {  // joiners' ids are not bounded by the membership
    PeerCounters& c = ctx_->received[peer_];
    ++c.frames_received;
    c.bytes_received += in.size_bytes();
  }
  std::string error;
  try {
    auto frame = in.root<wire::Frame>();
    if (state_ == State::kAwaitingHello) {
      if (frame.which() != wire::Frame::HELLO) {
        return refuse("the first frame must be a hello");
      }
      return on_hello(frame.getHello());
    }
    error = dispatch(frame);
  } catch (const kj::Exception& e) {
    error = std::string("malformed frame: ") + e.getDescription().cStr();
  }
  if (!error.empty()) close(error);
}

void Inbound::on_hello(wire::Hello::Reader hello) {
  HelloCheck check;
  check.protocol_version = hello.getProtocolVersion();
  check.cluster_id = hello.getClusterId().cStr();
  check.node = raft::NodeId(hello.getNodeId());
  auto proof = hello.getProof();
  check.proof.assign(reinterpret_cast<const char*>(proof.begin()), proof.size());
  check.joining = hello.getJoining();
  const auto& o = ctx_->options;
  if (stream_.tls()) {
    // Before anything else the hello claims: the certificate must name the node.
    const std::string wrong =
        check_peer_names_node(stream_.native_handle(), check.node, o.cluster_id);
    if (!wrong.empty()) {
      return refuse(fmt::format("it claims to be node {} but {}", check.node.value(), wrong));
    }
  }
  const std::string why =
      judge_hello(check, wire::PROTOCOL_VERSION, o.cluster_id, o.self, o.cluster_secret, nonce_,
                  [this](raft::NodeId id) { return ctx_->handler->accepts_peer(id); });
  if (ctx_->stopped || state_ == State::kClosed) return;  // the handler stopped us
  peer_ = check.node;
  if (!why.empty()) return refuse(why);
  state_ = check.joining ? State::kJoiner : State::kMember;
  spdlog::info("node {}: accepted {} (advertises {})", ctx_->self(), name(),
               hello.getAdvertisedAddress().cStr());
  auto their_nonce = hello.getNonce();
  if (their_nonce.size() > 1024) return refuse("the hello's nonce is absurdly long");
  write(welcome_frame(o.self, welcome_proof(o.cluster_secret,
                                            std::string_view(reinterpret_cast<const char*>(
                                                                 their_nonce.begin()),
                                                             their_nonce.size()),
                                            o.cluster_id, o.self),
                      o.welcome_forward_batches),
        false);
  if (state_ == State::kMember && ctx_->on_identified) ctx_->on_identified(peer_, shared_from_this());
}

std::string Inbound::dispatch(wire::Frame::Reader frame) {
  TransportHandler& handler = *ctx_->handler;
  const auto which = frame.which();
  if (state_ == State::kJoiner && which != wire::Frame::JOIN) {
    return "a joining node may send only join requests";
  }
  switch (which) {
    case wire::Frame::RAFT: {
      auto m = decode_raft_message(frame.getRaft());
      if (!m) return "refused Raft message: " + m.error;
      if (m.value->from != peer_ || m.value->to != ctx_->options.self) {
        return fmt::format("Raft message from {} to {} on the connection of node {} to node {}",
                           m.value->from.value(), m.value->to.value(), peer_.value(),
                           ctx_->self());
      }
      if (m.value->type == raft::MessageType::kInstallSnapshot) {
        return "InstallSnapshot outside a snapshot stream";
      }
      handler.on_raft_message(std::move(*m.value));
      return {};
    }
    case wire::Frame::SNAPSHOT_CHUNK: return dispatch_chunk(frame.getSnapshotChunk());
    case wire::Frame::FORWARD:
      handler.on_forwarded_proposal(peer_, decode_forward(frame.getForward()));
      return {};
    case wire::Frame::FORWARD_RESULT:
      handler.on_forward_result(peer_, decode_forward_result(frame.getForwardResult()));
      return {};
    case wire::Frame::FORWARDS:
      for (auto p : frame.getForwards()) handler.on_forwarded_proposal(peer_, decode_forward(p));
      return {};
    case wire::Frame::FORWARD_RESULTS:
      for (auto r : frame.getForwardResults()) handler.on_forward_result(peer_, decode_forward_result(r));
      return {};
    case wire::Frame::JOIN: {
      auto request = decode_join(frame.getJoin());
      if (!request) return "refused join request: " + request.error;
      handler.on_join_request(std::move(*request.value));
      return {};
    }
    case wire::Frame::JOIN_RESULT:
      handler.on_join_result(decode_join_result(frame.getJoinResult()));
      return {};
    case wire::Frame::STATUS_REQUEST:
      handler.on_status_request(peer_, decode_status_request(frame.getStatusRequest()));
      return {};
    case wire::Frame::STATUS_RESULT:
      handler.on_status_result(peer_, decode_status_result(frame.getStatusResult()));
      return {};
    case wire::Frame::HELLO:
    case wire::Frame::WELCOME:
    case wire::Frame::REFUSAL:
    case wire::Frame::CHALLENGE:
      return "handshake frame after the handshake";
  }
  // A newer peer's frame type (unions only grow): skip it, as the protocol's
  // compatibility rule asks.
  spdlog::warn("node {}: skipped a frame of unknown type {} from {}", ctx_->self(),
               static_cast<unsigned>(which), name());
  return {};
}

std::string Inbound::dispatch_chunk(wire::SnapshotChunk::Reader in) {
  auto chunk = decode_snapshot_chunk(in, ctx_->options.frame_bytes_max);
  if (!chunk) return "refused snapshot chunk: " + chunk.error;
  chunk.value->from = peer_;
  if (chunk.value->install &&
      (chunk.value->install->from != peer_ || chunk.value->install->to != ctx_->options.self)) {
    return "snapshot's InstallSnapshot names the wrong sender or receiver";
  }
  if (!ctx_->handler->on_snapshot_chunk(std::move(*chunk.value))) {
    return "this node refused the snapshot stream";
  }
  return {};
}

void Inbound::refuse(const std::string& reason) {
  spdlog::warn("node {}: refused {}: {}", ctx_->self(), name(), reason);
  state_ = State::kClosing;
  write(refusal_frame(reason), true);
}

void Inbound::write(kj::Array<capnp::word> frame, bool close_after) {
  writes_.push_back(std::move(frame));
  close_after_writes_ = close_after_writes_ || close_after;
  write_next();
}

void Inbound::write_next() {
  if (writing_ || state_ == State::kClosed) return;
  if (writes_.empty()) {
    if (close_after_writes_) close("");
    return;
  }
  writing_ = true;
  asio::async_write(stream_, framing::frame_buffer(writes_.front()),
                    [self = shared_from_this()](error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (self->ctx_->stopped || self->state_ == State::kClosed) return;
                      if (ec) return self->close("write failed: " + ec.message());
                      self->writes_.pop_front();
                      self->write_next();
                    });
}

void Inbound::close(const std::string& reason) {
  if (state_ == State::kClosed) return;
  if (!reason.empty() && !ctx_->stopped) {
    spdlog::warn("node {}: closed {}: {}", ctx_->self(), name(), reason);
  } else if (!ctx_->stopped && state_ != State::kClosing) {
    spdlog::info("node {}: {} disconnected", ctx_->self(), name());
  }
  state_ = State::kClosed;
  stream_.close();
  idle_timer_.cancel();
  // writes_ stays: an aborted write may still refer to its frame.
  if (!ctx_->stopped && ctx_->on_inbound_closed) ctx_->on_inbound_closed(this);
}

}  // namespace conclave::peer
