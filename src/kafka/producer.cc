#include "weir/kafka/producer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include "kafka/rdkafka_util.h"

namespace weir::kafka {
namespace {

using Clock = std::chrono::steady_clock;

// msg_opaque encoding: a SendWithToken() token has the top bit set (user
// space pointers never do); anything else non-null is a DeliveryContext*.
constexpr uintptr_t kTokenBit = uintptr_t{1} << 63;

// Heap state of a Send() with a callback or a future; freed by the report.
class DeliveryContext {
 public:
  virtual ~DeliveryContext() = default;
  virtual void Complete(DeliveryReport report) = 0;
};

class CallbackContext final : public DeliveryContext {
 public:
  explicit CallbackContext(DeliveryCallback cb) : cb_(std::move(cb)) {}
  void Complete(DeliveryReport report) override {
    if (cb_) cb_(report);
  }

 private:
  DeliveryCallback cb_;
};

class PromiseContext final : public DeliveryContext {
 public:
  std::future<DeliveryReport> GetFuture() { return promise_.get_future(); }
  void Complete(DeliveryReport report) override { promise_.set_value(std::move(report)); }

 private:
  std::promise<DeliveryReport> promise_;
};

const char kEmpty[1] = "";

}  // namespace

struct Producer::Impl {
  ClientConfig config;
  ProducerOptions options;
  internal::ClientState state;
  internal::RdKafkaPtr rk;

  // Records enqueued and not yet reported.
  std::atomic<int64_t> in_flight{0};
  std::mutex drained_mu;
  std::condition_variable drained_cv;  // notified when in_flight drops to 0

  std::thread poll_thread;
  std::atomic<bool> stop{false};
  bool closed = false;

  // rd_kafka_topic_t handles by name, so the hot path skips librdkafka's own
  // topic lookup. Few topics per producer: a vector beats a map.
  std::shared_mutex topics_mu;
  std::vector<std::pair<std::string, rd_kafka_topic_t*>> topics;  // GUARDED_BY(topics_mu)

  rd_kafka_topic_t* TopicHandle(std::string_view name);
  Status Enqueue(const ProduceRequest& req, void* opaque);
  void OnDeliveryReport(const rd_kafka_message_t* msg);
  void Release(int64_t n);
  bool WaitDrained(Clock::time_point deadline);
  void DestroyTopics();

  static void DrCallback(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);
};

rd_kafka_topic_t* Producer::Impl::TopicHandle(std::string_view name) {
  {
    std::shared_lock<std::shared_mutex> lock(topics_mu);
    for (const auto& [n, rkt] : topics) {
      if (n == name) return rkt;
    }
  }
  std::unique_lock<std::shared_mutex> lock(topics_mu);
  for (const auto& [n, rkt] : topics) {
    if (n == name) return rkt;
  }
  std::string owned(name);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), owned.c_str(), nullptr);
  if (rkt == nullptr) return nullptr;
  topics.emplace_back(std::move(owned), rkt);
  return rkt;
}

void Producer::Impl::DestroyTopics() {
  std::unique_lock<std::shared_mutex> lock(topics_mu);
  for (auto& [n, rkt] : topics) rd_kafka_topic_destroy(rkt);
  topics.clear();
}

void Producer::Impl::Release(int64_t n) {
  if (in_flight.fetch_sub(n, std::memory_order_acq_rel) == n) {
    std::lock_guard<std::mutex> lock(drained_mu);
    drained_cv.notify_all();
  }
}

bool Producer::Impl::WaitDrained(Clock::time_point deadline) {
  if (options.poll_thread) {
    std::unique_lock<std::mutex> lock(drained_mu);
    return drained_cv.wait_until(lock, deadline, [this] { return in_flight.load() == 0; });
  }
  while (in_flight.load() > 0) {
    auto now = Clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    rd_kafka_flush(rk.get(), internal::TimeoutMs(std::min(left, std::chrono::milliseconds(100))));
  }
  return true;
}

Status Producer::Impl::Enqueue(const ProduceRequest& req, void* opaque) {
  if (state.fatal()) return state.FatalStatus();
  rd_kafka_topic_t* rkt = TopicHandle(req.topic);
  if (rkt == nullptr) {
    return internal::ErrorStatus(rd_kafka_last_error(),
                                 fmt::format("cannot produce to topic \"{}\"", req.topic));
  }
  internal::HeadersPtr hdrs;
  if (!req.headers.empty()) {
    hdrs.reset(rd_kafka_headers_new(req.headers.size()));
    for (const HeaderView& h : req.headers) {
      const char* v = nullptr;
      size_t vlen = 0;
      if (h.value) {
        v = h.value->data() != nullptr ? h.value->data() : kEmpty;
        vlen = h.value->size();
      }
      rd_kafka_header_add(hdrs.get(), h.key.data(), static_cast<ssize_t>(h.key.size()), v,
                          static_cast<ssize_t>(vlen));
    }
  }
  rd_kafka_vu_t vus[8];
  size_t n = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_RKT;
  vus[n++].u.rkt = rkt;
  vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[n++].u.i32 = req.partition.value();
  vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[n++].u.i = req.copy_value ? RD_KAFKA_MSG_F_COPY : 0;
  vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[n++].u.ptr = opaque;
  if (req.key) {
    vus[n].vtype = RD_KAFKA_VTYPE_KEY;
    vus[n].u.mem.ptr = const_cast<char*>(req.key->data() != nullptr ? req.key->data() : kEmpty);
    vus[n++].u.mem.size = req.key->size();
  }
  if (req.value) {
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n].u.mem.ptr = const_cast<char*>(req.value->data() != nullptr ? req.value->data() : kEmpty);
    vus[n++].u.mem.size = req.value->size();
  }
  if (req.timestamp_ms != 0) {
    vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vus[n++].u.i64 = req.timestamp_ms;
  }
  if (hdrs) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADERS;
    vus[n++].u.headers = hdrs.get();
  }

  in_flight.fetch_add(1, std::memory_order_acq_rel);
  Clock::time_point deadline{};
  bool waited = false;
  for (;;) {
    rd_kafka_error_t* error = rd_kafka_produceva(rk.get(), vus, n);
    if (error == nullptr) {
      (void)hdrs.release();  // owned by the message now
      return Status::Ok();
    }
    internal::ErrorPtr owned(error);
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      Release(1);
      if (code == RD_KAFKA_RESP_ERR__FATAL && state.fatal()) return state.FatalStatus();
      return internal::ErrorStatus(error, fmt::format("cannot produce to topic \"{}\"", req.topic));
    }
    auto now = Clock::now();
    if (!waited) {
      deadline = now + options.queue_full_wait;
      waited = true;
    }
    if (now >= deadline) {
      Release(1);
      return internal::ErrorStatus(
          code, fmt::format("cannot produce to topic \"{}\"", req.topic),
          fmt::format("the local queue stayed full for {} ms (queue.buffering.max.messages/kbytes)",
                      options.queue_full_wait.count()));
    }
    if (options.poll_thread) {
      // The poll thread serves reports and frees room; wait for it briefly.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else {
      rd_kafka_poll(rk.get(), 10);
    }
  }
}

void Producer::Impl::OnDeliveryReport(const rd_kafka_message_t* msg) {
  const auto u = reinterpret_cast<uintptr_t>(msg->_private);
  Status status;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "?";
    std::string context = fmt::format("delivery to {} [{}] failed", topic, msg->partition);
    if (msg->err == RD_KAFKA_RESP_ERR__FATAL && state.fatal()) {
      status = state.FatalStatus().WithContext(context);
    } else {
      status = internal::ErrorStatus(msg->err, context);
    }
  }
  if ((u & kTokenBit) != 0) {
    if (options.listener != nullptr) {
      std::string_view topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "";
      try {
        options.listener->OnDelivery(u & ~kTokenBit, status, topic, Partition(msg->partition),
                                     Offset(msg->offset),
                                     std::chrono::microseconds(rd_kafka_message_latency(msg)));
      } catch (const std::exception& e) {
        spdlog::error("delivery listener threw: {}", e.what());
      } catch (...) {
        spdlog::error("delivery listener threw a non-standard exception");
      }
    }
  } else if (u != 0) {
    std::unique_ptr<DeliveryContext> ctx(reinterpret_cast<DeliveryContext*>(u));
    try {
      DeliveryReport report;
      report.status = std::move(status);
      report.topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "";
      report.partition = Partition(msg->partition);
      report.offset = Offset(msg->offset);
      report.latency = std::chrono::microseconds(rd_kafka_message_latency(msg));
      report.timestamp_ms = rd_kafka_message_timestamp(msg, nullptr);
      ctx->Complete(std::move(report));
    } catch (const std::exception& e) {
      spdlog::error("delivery callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("delivery callback threw a non-standard exception");
    }
  }
  Release(1);
}

void Producer::Impl::DrCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<Impl*>(opaque)->OnDeliveryReport(msg);
}

void Producer::Impl::ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  internal::HandleClientError(rk, err, reason, &static_cast<Impl*>(opaque)->state);
}

Result<std::unique_ptr<Producer>> Producer::Create(ClientConfig config, ProducerOptions options) {
  config.SetDefault("enable.idempotence", "true");
  config.SetDefault("acks", "all");
  config.SetDefault("compression.type", "lz4");
  config.SetDefault("linger.ms", "5");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = options;
  WEIR_ASSIGN_OR_RETURN(internal::ConfPtr conf, internal::BuildConf(config));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::DrCallback);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::ErrorCallback);
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  WEIR_ASSIGN_OR_RETURN(impl->rk, internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf), config));
  if (options.poll_thread) {
    Impl* raw = impl.get();
    impl->poll_thread = std::thread([raw] {
      while (!raw->stop.load(std::memory_order_acquire)) rd_kafka_poll(raw->rk.get(), 100);
    });
  }
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() {
  if (impl_ && !impl_->closed) {
    Status s = Close();
    if (!s.ok()) spdlog::warn("closing producer: {}", s.ToString());
  }
}

Status Producer::Send(const ProduceRequest& req, DeliveryCallback cb) {
  auto* ctx = new CallbackContext(std::move(cb));
  Status s = impl_->Enqueue(req, static_cast<DeliveryContext*>(ctx));
  if (!s.ok()) delete ctx;
  return s;
}

std::future<DeliveryReport> Producer::Send(const ProduceRequest& req) {
  auto* ctx = new PromiseContext();
  std::future<DeliveryReport> f = ctx->GetFuture();
  Status s = impl_->Enqueue(req, static_cast<DeliveryContext*>(ctx));
  if (!s.ok()) {
    DeliveryReport report;
    report.status = std::move(s);
    report.topic = std::string(req.topic);
    report.partition = req.partition;
    ctx->Complete(std::move(report));
    delete ctx;
  }
  return f;
}

Status Producer::SendWithToken(const ProduceRequest& req, uint64_t token) {
  if ((token & kTokenBit) != 0) {
    return Status::InvalidArgument(fmt::format("delivery token {} is not below 2^63", token));
  }
  if (impl_->options.listener == nullptr) {
    return Status::InvalidArgument("SendWithToken needs ProducerOptions::listener");
  }
  return impl_->Enqueue(req, reinterpret_cast<void*>(static_cast<uintptr_t>(token) | kTokenBit));
}

Status Producer::Flush(std::chrono::milliseconds timeout) {
  if (impl_->WaitDrained(Clock::now() + timeout)) return impl_->state.FatalStatus();
  return Status(StatusCode::kTimeout,
                fmt::format("{} records still unreported after {} ms", impl_->in_flight.load(),
                            timeout.count()),
                rd_kafka_err2name(RD_KAFKA_RESP_ERR__TIMED_OUT));
}

int Producer::Poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(impl_->rk.get(), internal::TimeoutMs(timeout));
}

int64_t Producer::InFlight() const { return impl_->in_flight.load(); }

void Producer::PurgeUndelivered() {
  rd_kafka_purge(impl_->rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                      RD_KAFKA_PURGE_F_NON_BLOCKING);
}

Status Producer::Close(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  if (d.closed) return Status::Ok();
  d.closed = true;
  Status result = Flush(timeout);
  if (!result.ok()) {
    const int64_t left = d.in_flight.load();
    // Fail what is left, loudly: each record gets its (failed) report.
    rd_kafka_purge(d.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (!d.WaitDrained(Clock::now() + std::chrono::seconds(10))) {
      spdlog::error("producer close: {} records got no report even after purging",
                    d.in_flight.load());
    }
    result = Status(StatusCode::kTimeout,
                    fmt::format("{} records were not delivered within {} ms and were reported "
                                "as failed",
                                left, timeout.count()),
                    rd_kafka_err2name(RD_KAFKA_RESP_ERR__PURGE_QUEUE));
  }
  if (d.poll_thread.joinable()) {
    d.stop.store(true, std::memory_order_release);
    rd_kafka_yield(d.rk.get());  // end the poll thread's current wait now
    d.poll_thread.join();
  }
  rd_kafka_poll(d.rk.get(), 0);  // serve anything queued after the thread stopped
  d.DestroyTopics();
  Status fatal = d.state.FatalStatus();
  d.rk.reset();
  if (!fatal.ok()) return fatal;
  return result;
}

void* Producer::native_handle() const { return impl_->rk.get(); }

const ClientConfig& Producer::config() const { return impl_->config; }

}  // namespace weir::kafka
