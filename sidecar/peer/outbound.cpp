// The dialer's side of a peer connection. See outbound.h.
#include "sidecar/peer/outbound.h"

#include <algorithm>
#include <functional>
#include <span>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sidecar/peer/frames.h"
#include "sidecar/peer/handshake.h"
#include "sidecar/peer/tls.h"

namespace conclave::peer {

namespace asio = boost::asio;
using boost::system::error_code;
namespace wire = schema::peer;

Outbound::Outbound(std::shared_ptr<PeerContext> ctx, raft::NodeId expected, std::string address,
                   bool joining)
    : ctx_(std::move(ctx)),
      expected_(expected),
      address_(std::move(address)),
      joining_(joining),
      resolver_(ctx_->io),
      handshake_timer_(ctx_->io),
      backoff_timer_(ctx_->io),
      // Jitter only spreads redials apart; it needs no cryptographic seed.
      jitter_(static_cast<std::uint_fast32_t>(std::hash<std::string>{}(address_) ^
                                              ctx_->self() ^ expected.value())) {}

std::string Outbound::name() const {
  if (expected_ == raft::kNoNode) return fmt::format("member at {}", address_);
  return fmt::format("peer {} at {}", expected_.value(), address_);
}

PeerCounters Outbound::counters() const {
  PeerCounters c = counters_;
  c.connected = state_ == State::kReady;
  c.queued_frames = queue_.size() + forwards_.size() + forward_results_.size();
  c.queued_bytes = queued_bytes_;
  return c;
}

bool Outbound::admits(std::size_t bytes) {
  if (state_ == State::kClosed || state_ == State::kBackoff ||
      queue_.size() + forwards_.size() + forward_results_.size() >= ctx_->options.send_queue_frames_max ||
      queued_bytes_ + bytes > ctx_->options.send_queue_bytes_max) {
    ++counters_.frames_dropped;
    return false;
  }
  return true;
}

void Outbound::after_queueing() {
  if (state_ == State::kIdle) {
    dial();
  } else {
    pump();
  }
}

bool Outbound::send(kj::Array<capnp::word> frame) {
  if (!admits(frame.size() * sizeof(capnp::word))) return false;
  enqueue(std::move(frame), false);
  after_queueing();
  // A dial that failed at once (an address that does not parse) dropped
  // the frame with the queue.
  return state_ != State::kBackoff;
}

namespace {

// What a waiting forward or result counts against the send queue's byte
// bound: its data and about what its frame adds.
constexpr std::size_t kWaitingOverheadBytes = 64;
std::size_t waiting_bytes(const ForwardedProposal& p) { return p.data.size() + kWaitingOverheadBytes; }
std::size_t waiting_bytes(const ForwardResult& r) { return r.error.size() + kWaitingOverheadBytes; }

// One frame for a value, and one for a list of them.
kj::Array<capnp::word> frame_of(const ForwardedProposal& p) { return forward_frame(p); }
kj::Array<capnp::word> frame_of(const ForwardResult& r) { return forward_result_frame(r); }
kj::Array<capnp::word> list_frame_of(std::span<const ForwardedProposal> ps) { return forwards_frame(ps); }
kj::Array<capnp::word> list_frame_of(std::span<const ForwardResult> rs) { return forward_results_frame(rs); }

}  // namespace

template <typename T>
bool Outbound::set_aside(std::vector<T>& waiting, T value) {
  const std::size_t bytes = waiting_bytes(value);
  if (!admits(bytes)) return false;
  queued_bytes_ += bytes;
  waiting.push_back(std::move(value));
  after_queueing();
  return state_ != State::kBackoff;
}

bool Outbound::send_forward(ForwardedProposal proposal) { return set_aside(forwards_, std::move(proposal)); }

bool Outbound::send_forward_result(ForwardResult result) { return set_aside(forward_results_, std::move(result)); }

template <typename T>
void Outbound::encode_waiting(std::vector<T>& waiting) {
  // A list is cut well below the largest frame a peer accepts.
  const std::size_t list_bytes_max = std::min(kBatchBytesMax, ctx_->options.frame_bytes_max / 2);
  for (std::size_t i = 0; i < waiting.size();) {
    std::size_t j = i;
    std::size_t bytes = 0;
    while (j < waiting.size() && (j == i || bytes + waiting_bytes(waiting[j]) <= list_bytes_max)) {
      bytes += waiting_bytes(waiting[j]);
      ++j;
    }
    queued_bytes_ -= bytes;
    if (peer_reads_batches_) {
      enqueue(list_frame_of(std::span<const T>(waiting).subspan(i, j - i)), false);
    } else {
      for (std::size_t k = i; k < j; ++k) enqueue(frame_of(waiting[k]), false);
    }
    i = j;
  }
  waiting.clear();
}

void Outbound::enqueue(kj::Array<capnp::word> frame, bool chunk) {
  if (chunk) {
    ++chunks_queued_;
  } else {
    queued_bytes_ += frame.size() * sizeof(capnp::word);
  }
  queue_.push_back(Queued{std::move(frame), chunk});
}

void Outbound::send_snapshot(raft::Message install, SnapshotChunkSource source) {
  if (state_ == State::kClosed || state_ == State::kBackoff) {
    ++counters_.frames_dropped;
    spdlog::warn("node {}: snapshot {} for {} not sent: not connected ({}); it will be retried",
                 ctx_->self(), install.snapshot ? install.snapshot->index.value() : 0, name(),
                 counters_.last_error);
    return;
  }
  if (snapshot_) {
    spdlog::info("node {}: a new snapshot stream to {} replaces the one in progress",
                 ctx_->self(), name());
  }
  snapshot_ = SnapshotStream{std::move(install), std::move(source), 0, {}};
  if (state_ == State::kIdle) {
    dial();
  } else {
    pump();
  }
}

void Outbound::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  ++generation_;
  if (stream_) stream_->close();
  resolver_.cancel();
  handshake_timer_.cancel();
  backoff_timer_.cancel();
  queue_.clear();
  in_flight_.clear();
  forwards_.clear();
  forward_results_.clear();
  queued_bytes_ = 0;
  chunks_queued_ = 0;
  snapshot_.reset();
}

void Outbound::dial() {
  state_ = State::kDialing;
  const std::uint64_t gen = ++generation_;
  stream_ = std::make_shared<PeerStream>(asio::ip::tcp::socket(ctx_->io), ctx_->tls.get());
  reader_ = std::make_shared<framing::FrameReader>(ctx_->options.frame_bytes_max);
  std::string host, port;
  if (!split_address(address_, host, port)) {
    return fail(fmt::format("address '{}' is not host:port; check the peer addresses", address_));
  }
  // The whole dial, handshake included, must finish within the idle timeout.
  handshake_timer_.expires_after(ctx_->options.idle_timeout);
  handshake_timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (ec || self->generation_ != gen || self->ctx_->stopped) return;
    if (self->state_ == State::kDialing) self->fail("no handshake within the idle timeout");
  });
  resolver_.async_resolve(
      host, port,
      [self = shared_from_this(), gen](error_code ec, asio::ip::tcp::resolver::results_type r) {
        if (self->generation_ != gen || self->ctx_->stopped) return;
        if (ec) return self->fail("cannot resolve the address: " + ec.message());
        asio::async_connect(
            self->stream_->socket(), r,
            [self, gen, stream = self->stream_](error_code ec2, const asio::ip::tcp::endpoint&) {
              if (self->generation_ != gen || self->ctx_->stopped) return;
              if (ec2) return self->fail("cannot connect: " + ec2.message());
              self->on_connected();
            });
      });
}

void Outbound::on_connected() {
  error_code ignored;
  auto& socket = stream_->socket();
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  if (ctx_->options.socket_send_buffer_bytes > 0) {
    socket.set_option(asio::socket_base::send_buffer_size(
                          static_cast<int>(ctx_->options.socket_send_buffer_bytes)),
                      ignored);
  }
  const std::uint64_t gen = generation_;
  stream_->async_handshake(PeerStream::Tls::client,
                           [self = shared_from_this(), gen, stream = stream_](error_code ec) {
                             if (self->generation_ != gen || self->ctx_->stopped) return;
                             self->on_tls_handshake(ec);
                           });
}

void Outbound::on_tls_handshake(const error_code& ec) {
  if (ec) return fail(tls_failure_reason(stream_->native_handle(), ec), true);
  const std::uint64_t gen = generation_;
  framing::async_read_frame(
      *reader_, *stream_,
      [self = shared_from_this(), gen, stream = stream_, reader = reader_](framing::FrameReadResult r) {
        if (self->generation_ != gen || self->ctx_->stopped) return;
        self->on_challenge(std::move(r));
      });
}

void Outbound::on_challenge(framing::FrameReadResult r) {
  if (!r.ok()) {
    return fail(r.io_error ? "connection lost before the challenge: " + r.io_error.message()
                           : r.protocol_error);
  }
  std::string nonce;
  try {
    auto frame = r.frame->root<wire::Frame>();
    if (frame.which() != wire::Frame::CHALLENGE) {
      return fail("the acceptor's first frame is not a challenge; is this a conclave peer port?");
    }
    auto data = frame.getChallenge().getNonce();
    nonce.assign(reinterpret_cast<const char*>(data.begin()), data.size());
  } catch (const kj::Exception& e) {
    return fail(std::string("malformed challenge: ") + e.getDescription().cStr());
  }
  if (nonce.size() > 1024) return fail("challenge nonce is absurdly long");
  // The hello goes out ahead of anything queued: nothing else may precede it.
  own_nonce_ = make_nonce();
  auto hello = std::make_shared<kj::Array<capnp::word>>(
      hello_frame(ctx_->options, ctx_->advertised_address, nonce, own_nonce_, joining_));
  const std::uint64_t gen = generation_;
  asio::async_write(
      *stream_, framing::frame_buffer(*hello),
      [self = shared_from_this(), gen, hello, stream = stream_](error_code ec, std::size_t) {
        if (self->generation_ != gen || self->ctx_->stopped) return;
        if (ec) self->fail("cannot send hello: " + ec.message());
      });
  framing::async_read_frame(
      *reader_, *stream_,
      [self = shared_from_this(), gen, stream = stream_, reader = reader_](framing::FrameReadResult r2) {
        if (self->generation_ != gen || self->ctx_->stopped) return;
        self->on_reply(std::move(r2));
      });
}

void Outbound::on_reply(framing::FrameReadResult r) {
  if (!r.ok()) {
    return fail(r.io_error ? "connection lost during the handshake: " + r.io_error.message()
                           : r.protocol_error);
  }
  bool reads_batches = false;
  try {
    auto frame = r.frame->root<wire::Frame>();
    if (frame.which() == wire::Frame::REFUSAL) {
      return fail(fmt::format("refused: {}", frame.getRefusal().getReason().cStr()), true);
    }
    if (frame.which() != wire::Frame::WELCOME) return fail("handshake answered with neither welcome nor refusal");
    const raft::NodeId id(frame.getWelcome().getNodeId());
    reads_batches = frame.getWelcome().getForwardBatches();
    if (expected_ != raft::kNoNode && id != expected_) {
      return fail(fmt::format("the node at {} is node {}, not {}; check the peer addresses",
                              address_, id.value(), expected_.value()));
    }
    const auto& o = ctx_->options;
    if (stream_->tls()) {
      const std::string wrong = check_peer_names_node(stream_->native_handle(), id, o.cluster_id);
      if (!wrong.empty()) {
        return fail(
            fmt::format("the node at {} says it is node {} but {}", address_, id.value(), wrong),
            true);
      }
    }
    auto proof = frame.getWelcome().getProof();
    if (!o.cluster_secret.empty() &&
        !proofs_equal(welcome_proof(o.cluster_secret, own_nonce_, o.cluster_id, id),
                      std::string_view(reinterpret_cast<const char*>(proof.begin()),
                                       proof.size()))) {
      return fail(fmt::format("the node at {} could not prove it knows the cluster secret; give "
                              "every node the same cluster_secret (or check that the address is "
                              "a conclave peer of this cluster)",
                              address_),
                  true);
    }
  } catch (const kj::Exception& e) {
    return fail(std::string("malformed handshake reply: ") + e.getDescription().cStr());
  }
  peer_reads_batches_ = reads_batches;
  handshake_timer_.cancel();
  state_ = State::kReady;
  failures_ = 0;
  spdlog::info("node {}: connected to {}", ctx_->self(), name());
  watch_for_close();
  pump();
}

void Outbound::watch_for_close() {
  // The acceptor sends nothing after its welcome, so a completed read means
  // the connection ended, or the peer broke the protocol.
  if (reader_->buffered_bytes() > 0) return fail("the peer sent data after its welcome");
  const std::uint64_t gen = generation_;
  stream_->async_read_some(
      asio::buffer(&watch_byte_, 1),
      [self = shared_from_this(), gen, stream = stream_](error_code ec, std::size_t) {
        if (self->generation_ != gen || self->ctx_->stopped) return;
        self->fail(ec ? "connection closed: " + ec.message()
                      : "the peer sent data after its welcome");
      });
}

std::chrono::milliseconds Outbound::next_backoff() {
  const auto& o = ctx_->options;
  const unsigned doublings = std::min(failures_, 16u);
  auto delay = std::min(o.reconnect_delay_max, o.reconnect_delay_min * (1u << doublings));
  // Jitter in [delay/2, delay] keeps a cluster's nodes from redialing in step.
  const auto half = delay.count() / 2;
  std::uniform_int_distribution<long> pick(half, std::max<long>(half, delay.count()));
  return std::chrono::milliseconds(pick(jitter_));
}

void Outbound::fail(const std::string& reason, bool refused) {
  if (state_ == State::kClosed) return;
  const auto delay = next_backoff();
  ++failures_;
  const std::size_t lost = queue_.size() + in_flight_.size() + forwards_.size() + forward_results_.size();
  if (refused) {
    spdlog::error("node {}: handshake with {} failed: {}; retrying in {} ms", ctx_->self(),
                  name(), reason, delay.count());
  } else if (failures_ == 1 || failures_ % 20 == 0) {
    spdlog::warn("node {}: connection to {} failed ({}), {} queued frames dropped; retrying in "
                 "{} ms (failure {} in a row)",
                 ctx_->self(), name(), reason, lost, delay.count(), failures_);
  } else {
    spdlog::debug("node {}: connection to {} failed again ({})", ctx_->self(), name(), reason);
  }
  if (snapshot_) {
    spdlog::warn("node {}: snapshot stream to {} aborted at byte {}; the leader will resend it",
                 ctx_->self(), name(), snapshot_->offset);
    snapshot_.reset();
  }
  counters_.last_error = reason;
  counters_.frames_dropped += lost;
  if (lost > 0 && expected_ != raft::kNoNode && !ctx_->stopped) ctx_->handler->on_connection_lost(expected_);
  queue_.clear();
  in_flight_.clear();
  forwards_.clear();
  forward_results_.clear();
  queued_bytes_ = 0;
  chunks_queued_ = 0;
  writing_ = false;
  if (stream_) stream_->close();
  handshake_timer_.cancel();
  const std::uint64_t gen = ++generation_;
  state_ = State::kBackoff;
  backoff_timer_.expires_after(delay);
  backoff_timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (ec || self->generation_ != gen || self->ctx_->stopped) return;
    // Dial again on the next frame; an idle peer is not redialed.
    if (self->state_ == State::kBackoff) self->state_ = State::kIdle;
  });
}

void Outbound::refill_snapshot() {
  while (snapshot_ && chunks_queued_ < kSnapshotChunksQueuedMax) {
    SnapshotStream& s = *snapshot_;
    if (s.pending.empty()) {
      std::optional<std::string> next;
      try {
        next = s.source();
      } catch (const std::exception& e) {
        spdlog::error("node {}: reading the snapshot for {} failed: {}", ctx_->self(), name(),
                      e.what());
      }
      if (!next) {
        spdlog::warn("node {}: snapshot stream to {} aborted by its source at byte {}",
                     ctx_->self(), name(), s.offset);
        snapshot_.reset();
        return;
      }
      if (next->empty()) {
        // The end: a last chunk with no data carries the install message.
        enqueue(snapshot_chunk_frame(s.install, s.offset, {}, true), true);
        spdlog::info("node {}: snapshot {} ({} bytes) queued in full for {}", ctx_->self(),
                     s.install.snapshot ? s.install.snapshot->index.value() : 0, s.offset,
                     name());
        snapshot_.reset();
        return;
      }
      s.pending = std::move(*next);
    }
    const std::size_t take = std::min(s.pending.size(), ctx_->options.snapshot_chunk_bytes);
    std::string piece = s.pending.substr(0, take);
    s.pending.erase(0, take);
    enqueue(snapshot_chunk_frame(s.install, s.offset, piece, false), true);
    s.offset += piece.size();
  }
}

void Outbound::pump() {
  if (state_ != State::kReady || writing_) return;
  encode_waiting(forwards_);
  encode_waiting(forward_results_);
  refill_snapshot();
  if (queue_.empty()) return;
  std::vector<asio::const_buffer> buffers;
  std::size_t batch_bytes = 0;
  while (!queue_.empty() && in_flight_.size() < kBatchFramesMax &&
         (in_flight_.empty() || batch_bytes < kBatchBytesMax)) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t bytes = q.frame.size() * sizeof(capnp::word);
    if (!q.chunk) queued_bytes_ -= bytes;
    batch_bytes += bytes;
    buffers.push_back(framing::frame_buffer(q.frame));
    in_flight_.push_back(std::move(q));
  }
  writing_ = true;
  const std::uint64_t gen = generation_;
  // A peer that vanished without a reset leaves the write pending until
  // TCP gives up, many minutes later; a write that makes no progress for the
  // idle timeout ends the connection instead, and frees its queue.
  handshake_timer_.expires_after(ctx_->options.idle_timeout);
  handshake_timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (ec || self->generation_ != gen || self->ctx_->stopped || !self->writing_) return;
    self->fail(fmt::format("a write made no progress for {} ms",
                           self->ctx_->options.idle_timeout.count()));
  });
  asio::async_write(
      *stream_, buffers,
      [self = shared_from_this(), gen, stream = stream_](error_code ec, std::size_t n) {
        if (self->generation_ != gen || self->ctx_->stopped) return;
        if (ec) return self->fail("write failed: " + ec.message());
        self->handshake_timer_.cancel();
        self->writing_ = false;
        self->counters_.frames_sent += self->in_flight_.size();
        self->counters_.bytes_sent += n;
        for (const Queued& q : self->in_flight_) {
          if (q.chunk) --self->chunks_queued_;
        }
        self->in_flight_.clear();
        self->pump();
      });
}

}  // namespace conclave::peer
