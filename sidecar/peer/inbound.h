// One accepted peer connection: the acceptor's half of the handshake (TLS
// first when configured, then challenge, then judge the hello: welcome or
// refusal), then reading frames,
// validating each against the handshake and passing it to the handler. A
// malformed, oversized or out-of-place frame closes this connection only,
// with the reason in the log. Nothing received for the idle timeout closes it
// too.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <capnp/common.h>
#include <kj/array.h>

#include "schema/peer.capnp.h"
#include "schema/stream_framing.h"
#include "sidecar/peer/peer_context.h"
#include "sidecar/peer/stream.h"

namespace conclave::peer {

class Inbound : public std::enable_shared_from_this<Inbound> {
 public:
  Inbound(std::shared_ptr<PeerContext> ctx, boost::asio::ip::tcp::socket socket);
  Inbound(const Inbound&) = delete;
  Inbound& operator=(const Inbound&) = delete;

  void start();
  // Closes with `reason` in the log (empty: quietly, e.g. on stop).
  void close(const std::string& reason);
  raft::NodeId peer() const { return peer_; }

 private:
  enum class State { kAwaitingHello, kMember, kJoiner, kClosing, kClosed };

  void on_tls_handshake(const boost::system::error_code& ec);
  // Handles every frame already read, then reads more.
  void read_next();
  void on_frame(framing::InboundFrame& frame);
  void on_hello(schema::peer::Hello::Reader hello);
  // Returns an error to close the connection with, or empty to carry on.
  std::string dispatch(schema::peer::Frame::Reader frame);
  std::string dispatch_chunk(schema::peer::SnapshotChunk::Reader chunk);
  void refuse(const std::string& reason);
  void write(kj::Array<capnp::word> frame, bool close_after);
  void write_next();
  void arm_idle_timer();
  std::string name() const;

  std::shared_ptr<PeerContext> ctx_;
  PeerStream stream_;
  framing::FrameReader reader_;
  boost::asio::steady_timer idle_timer_;
  std::string remote_;  // the remote endpoint, for logs before the hello
  std::string nonce_;
  State state_ = State::kAwaitingHello;
  raft::NodeId peer_;

  // The acceptor writes only handshake frames; a short queue keeps them
  // from interleaving on the socket.
  std::deque<kj::Array<capnp::word>> writes_;
  bool writing_ = false;
  bool close_after_writes_ = false;
};

}  // namespace conclave::peer
