// One outbound connection: to a peer we send to, or to a member we ask to
// let us join. It dials lazily on the first frame, performs the dialer's half
// of the handshake (TLS first when configured), writes queued frames in batches (one gathered write for
// many frames), streams snapshots as the socket drains, and after a failure
// waits out an exponential backoff with jitter before it dials again.
//
// While dialing, frames queue up to the bounds; while backing off after a
// failure, frames are dropped (and counted): Raft resends what matters, and
// a dead peer must not pile up stale messages.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <capnp/common.h>
#include <kj/array.h>

#include "schema/stream_framing.h"
#include "sidecar/peer/peer_context.h"
#include "sidecar/peer/stream.h"

namespace conclave::peer {

// Chunks of one snapshot stream queued or being written at once: two keep
// the socket busy while the next is read, and bound what a heartbeat queued
// behind them waits for.
inline constexpr unsigned kSnapshotChunksQueuedMax = 2;
// Frames and bytes gathered into one write.
inline constexpr std::size_t kBatchFramesMax = 256;
inline constexpr std::size_t kBatchBytesMax = 4u << 20;

class Outbound : public std::enable_shared_from_this<Outbound> {
 public:
  // `expected` is the node we mean to reach, checked against its welcome;
  // kNoNode when joining (we do not know the member's id yet).
  Outbound(std::shared_ptr<PeerContext> ctx, raft::NodeId expected, std::string address,
           bool joining);
  Outbound(const Outbound&) = delete;
  Outbound& operator=(const Outbound&) = delete;

  // Queues one frame, dialing first if idle. False when it was dropped.
  bool send(kj::Array<capnp::word> frame);
  // A forwarded proposal, or a leader's result for one: they wait as values
  // for the next write, which takes all those waiting in one frame of each
  // kind to a peer whose welcome said it reads them (one per proposal went
  // out for each of a busy follower's proposals, and back), else in one
  // frame each. Queued and dropped like send().
  bool send_forward(ForwardedProposal proposal);
  bool send_forward_result(ForwardResult result);
  void send_snapshot(raft::Message install, SnapshotChunkSource source);
  // Closes for good (peer removed or transport stopped); drops what is queued.
  void close();

  const std::string& address() const { return address_; }
  raft::NodeId expected() const { return expected_; }
  PeerCounters counters() const;

 private:
  enum class State { kIdle, kDialing, kReady, kBackoff, kClosed };
  struct Queued {
    kj::Array<capnp::word> frame;
    bool chunk = false;
  };
  struct SnapshotStream {
    raft::Message install;
    SnapshotChunkSource source;
    std::uint64_t offset = 0;
    std::string pending;  // pulled from the source but larger than one chunk
  };

  void dial();
  void on_connected();
  void on_tls_handshake(const boost::system::error_code& ec);
  void on_challenge(framing::FrameReadResult result);
  void on_reply(framing::FrameReadResult result);
  void watch_for_close();
  void fail(const std::string& reason, bool refused = false);
  void pump();
  void refill_snapshot();
  void enqueue(kj::Array<capnp::word> frame, bool chunk);
  // Whether one more message of `bytes` fits the send queue's bounds now
  // (and the connection is not closed or backing off); counts a drop if not.
  bool admits(std::size_t bytes);
  void after_queueing();
  // Keeps a forward or result for the next write, as send() would queue it.
  template <typename T>
  bool set_aside(std::vector<T>& waiting, T value);
  // Encodes the waiting forwards (or results) into queue_.
  template <typename T>
  void encode_waiting(std::vector<T>& waiting);
  std::chrono::milliseconds next_backoff();
  std::string name() const;

  std::shared_ptr<PeerContext> ctx_;
  const raft::NodeId expected_;
  std::string address_;
  const bool joining_;

  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // bumped per dial; stale callbacks compare it
  boost::asio::ip::tcp::resolver resolver_;
  // A new stream per dial (a TLS session cannot be reused); handlers of
  // pending operations hold the old one until they have run.
  std::shared_ptr<PeerStream> stream_;
  // The handshake's frames, read from stream_ (one per dial, likewise).
  std::shared_ptr<framing::FrameReader> reader_;
  // Bounds the dial and handshake, then each write.
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer backoff_timer_;
  unsigned failures_ = 0;
  std::minstd_rand jitter_;
  unsigned char watch_byte_ = 0;
  std::string own_nonce_;  // this dial's challenge to the acceptor

  std::deque<Queued> queue_;
  std::size_t queued_bytes_ = 0;  // of non-chunk frames in queue_, and of the waiting forwards and results
  std::vector<ForwardedProposal> forwards_;
  std::vector<ForwardResult> forward_results_;
  bool peer_reads_batches_ = false;  // its welcome set forwardBatches
  std::vector<Queued> in_flight_;
  bool writing_ = false;
  std::optional<SnapshotStream> snapshot_;
  unsigned chunks_queued_ = 0;  // in queue_ or in_flight_

  PeerCounters counters_;
};

}  // namespace conclave::peer
