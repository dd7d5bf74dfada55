#include "ipc/framed_connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>

namespace conclave::ipc {

FramedConnection::FramedConnection(boost::asio::local::stream_protocol::socket socket, std::string label,
                                   std::size_t frame_bytes_max)
    : socket_(std::move(socket)), label_(std::move(label)), frame_bytes_max_(frame_bytes_max) {}

void FramedConnection::start() {
  spdlog::debug("{} opened", label_);
  read_next();
}

void FramedConnection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  outbox_.clear();
  queued_bytes_ = 0;
  spdlog::debug("{} closed", label_);
  on_closed();
}

void FramedConnection::finish_after_writes() {
  if (closed_) return;
  closing_ = true;
  write_next();
}

void FramedConnection::read_next() {
  if (closing()) return;
  framing::async_read_frame(socket_, frame_bytes_max_, [self = shared_from_this()](framing::FrameReadResult r) {
    self->on_read(std::move(r));
  });
}

void FramedConnection::on_read(framing::FrameReadResult result) {
  if (closing()) return;
  if (result.io_error) {
    if (result.io_error != boost::asio::error::eof && result.io_error != boost::asio::error::operation_aborted) {
      spdlog::debug("{}: {}", label_, result.io_error.message());
    }
    return close();
  }
  if (!result.protocol_error.empty() || !result.frame) {
    spdlog::warn("{} sent a bad frame ({}); closing it", label_, result.protocol_error);
    on_protocol_error(result.protocol_error);
    return finish_after_writes();
  }
  try {
    on_frame(*result.frame);
  } catch (const kj::Exception& e) {
    std::string why = std::string("malformed message: ") + e.getDescription().cStr();
    spdlog::warn("{}: {}; closing it", label_, why);
    on_protocol_error(why);
    return finish_after_writes();
  }
  read_next();
}

void FramedConnection::queue(capnp::MessageBuilder& message) {
  if (closed_) return;
  outbox_.push_back(framing::encode_frame(message));
  queued_bytes_ += outbox_.back().size() * sizeof(capnp::word);
  write_next();
}

void FramedConnection::write_next() {
  if (writing_ || closed_) return;
  if (outbox_.empty()) {
    if (closing_) close();
    return;
  }
  writing_ = true;
  const auto& frame = outbox_.front();
  boost::asio::async_write(socket_, framing::frame_buffer(frame),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->writing_ = false;
                             if (self->closed_) return;
                             if (ec) return self->close();
                             self->queued_bytes_ -= self->outbox_.front().size() * sizeof(capnp::word);
                             self->outbox_.pop_front();
                             if (self->outbox_.empty() && !self->closing_) self->on_drained();
                             self->write_next();
                           });
}

}  // namespace conclave::ipc
