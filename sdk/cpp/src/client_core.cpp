// The I/O thread of a Client; see client_core.h.
#include "client_core.h"

#include <random>

#include <boost/asio/post.hpp>

namespace conclave::detail {

namespace {

std::uint64_t random_session() {
  std::random_device device;
  std::uint64_t session = 0;
  while (session == 0) session = (std::uint64_t{device()} << 32) ^ device();
  return session;
}

// A notice per entry would double the messages of a busy stream; the
// sidecar only needs to know roughly where the application stands.
constexpr std::chrono::milliseconds kAppliedNoticeDelay{10};

// Codes that no retry can cure: give up instead of looping.
bool fatal(ErrorCode code) {
  return code == ErrorCode::forbidden || code == ErrorCode::version || code == ErrorCode::malformed;
}

}  // namespace

ClientCore::ClientCore(Handler& handler, ClientOptions options)
    : options_(std::move(options)),
      work_(io_.get_executor()),
      table_(random_session(), options_.retry_delay_min, options_.retry_delay_max),
      dispatcher_(handler, *this, options_.applied_index, options_.snapshot_chunk_bytes,
                  options_.stream_buffer_bytes_max),
      request_timer_(io_),
      reconnect_timer_(io_),
      applied_timer_(io_),
      applied_latest_(options_.applied_index),
      reconnect_delay_(options_.retry_delay_min) {
  dispatcher_.start();
  boost::asio::post(io_, [this] { connect(); });
  io_thread_ = std::thread([this] { io_.run(); });
}

ClientCore::~ClientCore() {
  stop();
  if (io_thread_.joinable()) io_thread_.join();
}

void ClientCore::stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = Error(ErrorCode::stopped, "the client was stopped");
  boost::asio::post(io_, [this] { stop_for_good(Error(ErrorCode::stopped, "the client was stopped")); });
}

void ClientCore::submit(Request request) {
  {
    std::lock_guard lock(stop_mutex_);
    if (!stopped_) {
      boost::asio::post(io_, [this, request = std::move(request)]() mutable {
        if (state_ == State::stopped) return request.fail(Error(ErrorCode::stopped, "the client has stopped"));
        table_.add(std::move(request), Clock::now());
        pump();
      });
      return;
    }
  }
  Error why = *stopped_;  // set once, never changed afterwards
  request.fail(why);
}

void ClientCore::stop_for_good(Error error) {
  if (state_ == State::stopped) return;
  {
    std::lock_guard lock(stop_mutex_);
    if (!stopped_) stopped_ = error;
  }
  state_ = State::stopped;
  batch_.clear();
  if (error.code() != ErrorCode::stopped) report(error);
  table_.fail_all(error);
  if (stream_) stream_->close();
  stream_.reset();
  if (connecting_) connecting_->close();
  request_timer_.cancel();
  reconnect_timer_.cancel();
  applied_timer_.cancel();
  dispatcher_.stop();
  work_.reset();
}

void ClientCore::report(Error error) {
  if (!options_.on_error) return;
  try {
    options_.on_error(error);
  } catch (...) {
    // The application's reporting failed; the client carries on regardless.
  }
}

void ClientCore::connect() {
  if (state_ == State::stopped) return;
  state_ = State::connecting;
  connecting_.emplace(io_);
  connecting_->async_connect(
      boost::asio::local::stream_protocol::endpoint(options_.socket_path), [this](boost::system::error_code ec) {
        if (state_ != State::connecting) return;
        if (ec) {
          report(Error(ErrorCode::disconnected,
                       "cannot connect to the sidecar at " + options_.socket_path + ": " + ec.message()));
          connecting_.reset();
          state_ = State::waiting;
          return schedule_reconnect();
        }
        std::uint64_t generation = ++generation_;
        stream_ = std::make_shared<FrameStream>(
            std::move(*connecting_),
            [this, generation](kj::ArrayPtr<const capnp::word> f) { on_frame(generation, f); },
            [this, generation] { on_batch_end(generation); },
            [this, generation](std::string why) { lose_connection(generation, std::move(why)); });
        connecting_.reset();
        closing_.reset();
        in_batch_ = false;
        pump_after_batch_ = false;
        state_ = State::attaching;
        attach_id_ = table_.reserve_id();
        applied_sent_ = dispatcher_.applied();  // the attach says it
        stream_->write(encode_attach(attach_id_, options_.name, applied_sent_));
        stream_->start();
      });
}

void ClientCore::schedule_reconnect() {
  reconnect_timer_.expires_after(reconnect_delay_);
  reconnect_delay_ = std::min(reconnect_delay_ * 2, std::max(options_.retry_delay_min, options_.retry_delay_max));
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && state_ == State::waiting) connect();
  });
}

void ClientCore::on_frame(std::uint64_t generation, kj::ArrayPtr<const capnp::word> frame) {
  if (generation != generation_ || !stream_) return;
  in_batch_ = true;
  answers_.clear();
  try {
    decode(frame, answers_, batch_);
  } catch (const Error& e) {
    // A message this SDK cannot read will come again after a reconnect:
    // stop rather than loop.
    return stop_for_good(e);
  }
  for (const Answer& a : answers_) {
    on_answer(a);
    if (generation != generation_ || !stream_) return;  // the answer ended the connection
  }
  if (!batch_.empty() && batch_.back().kind == StreamEvent::Kind::closing) {
    StreamEvent closing = std::move(batch_.back());
    batch_.pop_back();
    on_closing(closing);
  }
}

void ClientCore::on_batch_end(std::uint64_t generation) {
  if (generation != generation_ || !stream_) return;
  in_batch_ = false;
  flush_events(generation);
  if (pump_after_batch_) {
    pump_after_batch_ = false;
    pump();
  }
}

void ClientCore::flush_events(std::uint64_t generation) {
  if (!dispatcher_.push(generation, batch_) && stream_) stream_->pause();
}

void ClientCore::on_answer(const Answer& a) {
  if (state_ == State::attaching && a.id == attach_id_) return on_attached(a);
  if (snapshot_ids_.erase(a.id) != 0) {
    if (a.code != ErrorCode::none) report(Error(a.code, "the sidecar did not store our snapshot: " + a.reason));
    return;
  }
  table_.answer(a, Clock::now());
  if (in_batch_) {
    pump_after_batch_ = true;
  } else {
    pump();
  }
}

void ClientCore::on_attached(const Answer& a) {
  if (a.code == ErrorCode::none) {
    state_ = State::attached;
    reconnect_delay_ = options_.retry_delay_min;
    send_applied();  // what the handler applied while the attach was in flight
    return pump();
  }
  Error refused(a.code, "the sidecar refused to attach: " + a.reason);
  if (fatal(a.code)) return stop_for_good(refused);
  closing_ = refused;
  report(refused);
  lose_connection(generation_, refused.reason());
}

void ClientCore::on_closing(const StreamEvent& closing) {
  closing_ = Error(closing.code, "the sidecar is closing the session: " + closing.reason);
  report(*closing_);
  if (fatal(closing.code)) stop_for_good(*closing_);
}

void ClientCore::lose_connection(std::uint64_t generation, std::string why) {
  if (generation != generation_ || (state_ != State::attaching && state_ != State::attached)) return;
  // What this connection delivered before it broke is still the stream.
  flush_events(generation);
  in_batch_ = false;
  pump_after_batch_ = false;
  if (stream_) stream_->close();
  stream_.reset();
  // A closing message already said why; the socket's end adds nothing.
  if (!closing_) report(Error(ErrorCode::disconnected, why));
  table_.connection_lost(Clock::now());
  snapshot_ids_.clear();
  state_ = State::draining;
  dispatcher_.push_end(generation);
  pump();
}

void ClientCore::pump() {
  if (state_ == State::stopped) return;
  auto now = Clock::now();
  table_.expire(now);
  if (state_ == State::attached) {
    for (auto& frame : table_.take_ready(now)) stream_->write(std::move(frame));
  }
  auto next = table_.next_due(state_ == State::attached);
  // Re-armed only to fire earlier: pump runs on every answer, and each
  // re-arm cancels a wait (a handler run). A timer armed for earlier than
  // needed fires, finds nothing due, and this re-arms it for later.
  if (!next || (request_timer_at_ && *request_timer_at_ <= *next)) return;
  request_timer_at_ = next;
  request_timer_.expires_at(*next);
  request_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    request_timer_at_.reset();
    pump();
  });
}

void ClientCore::send_snapshot_chunk(std::uint64_t generation, Index index, std::string data, bool done,
                                     std::string failed) {
  boost::asio::post(io_, [this, generation, index, data = std::move(data), done, failed = std::move(failed)] {
    // A snapshot asked for on a connection that is gone has no one to
    // receive it; the sidecar asks again when it needs one.
    if (generation != generation_ || state_ != State::attached) return;
    std::uint64_t id = 0;
    if (done) {
      id = table_.reserve_id();
      snapshot_ids_.insert(id);
    }
    stream_->write(encode_snapshot_chunk(id, index, data, done, failed));
  });
}

void ClientCore::applied(Index index) {
  boost::asio::post(io_, [this, index] {
    applied_latest_ = index;
    if (applied_timer_armed_ || state_ == State::stopped) return;
    applied_timer_armed_ = true;
    applied_timer_.expires_after(kAppliedNoticeDelay);
    applied_timer_.async_wait([this](boost::system::error_code ec) {
      applied_timer_armed_ = false;
      if (!ec) send_applied();
    });
  });
}

void ClientCore::send_applied() {
  if (state_ != State::attached || applied_latest_ == applied_sent_) return;
  applied_sent_ = applied_latest_;
  stream_->write(encode_applied(applied_sent_));
}

void ClientCore::drained(std::uint64_t generation, Index) {
  boost::asio::post(io_, [this, generation] {
    if (generation != generation_ || state_ != State::draining) return;
    state_ = State::waiting;
    schedule_reconnect();
  });
}

void ClientCore::resume_reading() {
  boost::asio::post(io_, [this] {
    if (stream_) stream_->resume();
  });
}

void ClientCore::failed(Error error) {
  boost::asio::post(io_, [this, error = std::move(error)] { stop_for_good(error); });
}

}  // namespace conclave::detail
