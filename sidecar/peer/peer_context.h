// What every connection of one Transport shares: the io_context, the
// options, the handler, and the hooks back into the transport. Connections
// hold it by shared_ptr so that handlers still pending after the transport
// stops find `stopped` set and return without touching anything else.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "sidecar/peer/transport.h"

namespace conclave::peer {

class Inbound;

struct PeerContext {
  PeerContext(boost::asio::io_context& io_context, TransportOptions opts, TransportHandler& h)
      : io(io_context), options(std::move(opts)), handler(&h) {}

  boost::asio::io_context& io;
  const TransportOptions options;
  std::string advertised_address;  // set by start()
  // Set by start() when TLS is configured; every connection uses it.
  std::shared_ptr<boost::asio::ssl::context> tls;
  TransportHandler* handler;
  bool stopped = false;

  // Traffic received on inbound connections, by the node that said hello.
  std::map<raft::NodeId, PeerCounters> received;

  // An inbound connection proved to be `node` (not a joiner): the transport
  // closes any older connection from the same node (it has restarted).
  std::function<void(raft::NodeId node, const std::shared_ptr<Inbound>&)> on_identified;
  std::function<void(const Inbound*)> on_inbound_closed;

  std::uint64_t self() const { return options.self.value(); }
};

// Splits "host:port" (or "[v6]:port"); false when it is not of that shape.
bool split_address(const std::string& address, std::string& host, std::string& port);

}  // namespace conclave::peer
