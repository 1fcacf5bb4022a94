#include "weir/broker/broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>

#include "broker/clock.h"
#include "broker/group_coordinator.h"
#include "broker/request_handler.h"
#include "broker/topic_manager.h"
#include "common/host_port.h"
#include "weir/observe/metrics.h"

namespace weir::broker {
namespace {

// Splits "host:port"; the host may be empty (all interfaces) or [v6].
Status ParseListen(const std::string& listen, std::string* host, uint16_t* port) {
  if (listen.find(':') == std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("listen address \"{}\" is not host:port (e.g. 127.0.0.1:9092)", listen));
  }
  if (!SplitHostPort(listen, host, port)) {
    return Status::InvalidArgument(fmt::format("listen address \"{}\": port \"{}\" is not 0-65535",
                                               listen, listen.substr(listen.rfind(':') + 1)));
  }
  return Status::Ok();
}

std::string PeerName(const sockaddr_storage& addr, std::string* host_only) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  *host_only = host;
  return fmt::format("{}:{}", host, port);
}

bool ReadFull(int fd, uint8_t* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::recv(fd, buf + done, n - done, 0);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::send(fd, buf + done, n - done, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

constexpr const char* kLockFile = "lock";
constexpr size_t kMaxConnections = 1024;
// Responses a connection may have waiting for their flush (fsync mode)
// before it stops reading requests.
constexpr size_t kMaxPendingResponses = 16;
constexpr const char* kAddressFile = "broker.addr";

// Takes the data folder's lock: one broker per folder. Returns the locked fd.
Result<int> LockDataDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Io(
        fmt::format("cannot create broker data folder {}: {}", dir.string(), ec.message()));
  }
  std::string path = (dir / kLockFile).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("open {}: {}", path, strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) {
      return Status::AlreadyExists(
          fmt::format("broker data folder {} is in use by another broker process", dir.string()));
    }
    return Status::Io(fmt::format("flock {}: {}", path, strerror(e)));
  }
  return fd;
}

}  // namespace

Result<std::string> RunningBrokerAddress(const std::filesystem::path& data_dir, int wait_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    // A broker holds the lock while it runs; a free lock means none runs.
    std::string lock_path = (data_dir / kLockFile).string();
    int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
    bool held = false;
    if (fd >= 0) {
      held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
      ::close(fd);
    }
    if (!held) {
      return Status::NotFound(
          fmt::format("no broker is running on data folder {}", data_dir.string()));
    }
    std::ifstream in(data_dir / kAddressFile);
    std::string address;
    if (in && std::getline(in, address) && !address.empty()) return address;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(
          fmt::format("a broker holds data folder {} but has not published its address in {}",
                      data_dir.string(), (data_dir / kAddressFile).string()));
    }
    // The other broker is still starting (recovery can take a moment).
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

struct Broker::Impl {
  int lock_fd = -1;
  BrokerOptions options;
  const Clock* clock = nullptr;
  std::unique_ptr<TopicManager> topics;
  std::unique_ptr<GroupCoordinator> groups;
  std::unique_ptr<RequestHandler> handler;
  int listen_fd = -1;
  uint16_t port = 0;
  std::string advertised_host;
  std::atomic<bool> stopping{false};
  std::thread accept_thread;
  std::thread timer_thread;
  std::mutex timer_mu;
  std::condition_variable timer_cv;

  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex conn_mu;
  std::list<Connection> connections;  // GUARDED_BY(conn_mu)

  // The scrape-time collector of log and connection gauges; removed (and
  // waited for) first thing in StopAll().
  int collector_id = -1;
  void Collect(observe::Scrape& s);

  struct PendingResponse {
    std::string response;
    std::vector<std::shared_ptr<PartitionLog>> sync_first;
  };
  struct GroupCommit {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<PendingResponse> queue;  // GUARDED_BY(mu)
    bool closing = false;               // GUARDED_BY(mu)
    bool failed = false;                // GUARDED_BY(mu)
  };

  void AcceptLoop();
  void Serve(Connection* c, std::string peer, std::string host);
  void Respond(int fd, const std::string& peer, GroupCommit* group);
  static Status SyncAll(const std::vector<PartitionLog*>& logs);
  void TimerLoop();
  void ReapLocked();
  void StopAll();
  ~Impl() { StopAll(); }
};

void Broker::Impl::ReapLocked() {
  for (auto it = connections.begin(); it != connections.end();) {
    if (it->done.load()) {
      it->thread.join();
      ::close(it->fd);
      it = connections.erase(it);
    } else {
      ++it;
    }
  }
}

void Broker::Impl::AcceptLoop() {
  while (!stopping.load()) {
    pollfd pfd{listen_fd, POLLIN, 0};
    int rc = ::poll(&pfd, 1, 200);
    if (rc < 0 && errno != EINTR) {
      spdlog::error("broker: poll on the listener failed: {}", strerror(errno));
      return;
    }
    {
      std::lock_guard lock(conn_mu);
      ReapLocked();
    }
    if (rc <= 0 || stopping.load()) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        // Out of descriptors: the listener stays readable, so back off
        // instead of spinning; closing connections frees descriptors.
        spdlog::warn("broker: accept failed: {}; retrying in 100 ms", strerror(e));
        std::unique_lock lock(timer_mu);
        timer_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping.load(); });
      } else if (e != EINTR && e != EAGAIN && e != ECONNABORTED) {
        spdlog::warn("broker: accept failed: {}", strerror(e));
      }
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::string host;
    std::string peer = PeerName(addr, &host);
    std::lock_guard lock(conn_mu);
    if (connections.size() >= kMaxConnections) {
      // One thread per connection: bound them, like Kafka's max.connections.
      spdlog::warn("broker: refusing connection from {}: {} connections open (the limit)", peer,
                   connections.size());
      ::close(fd);
      continue;
    }
    Connection& c = connections.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, &c, peer, host] { Serve(&c, peer, host); });
  }
}

void Broker::Impl::Serve(Connection* c, std::string peer, std::string host) {
  ConnectionInfo info{peer, "/" + host};
  // The frame buffer is reused across requests and never zero-filled; it
  // grows as bytes arrive, so a frame that announces 100 MiB and sends
  // nothing costs nothing.
  std::unique_ptr<uint8_t[]> frame;
  size_t capacity = 0;
  std::string response;
  std::vector<std::shared_ptr<PartitionLog>> sync_first;
  constexpr size_t kChunk = 1 << 20;
  // With fsync, acknowledgements wait for fdatasync: a responder thread
  // flushes and answers while this one reads the next requests, and one
  // flush covers every request that queued meanwhile (group commit).
  // Responses keep their order.
  const bool group_commit = options.fsync;
  GroupCommit group;
  std::thread responder;
  if (group_commit) {
    responder = std::thread([this, c, &peer, &group] { Respond(c->fd, peer, &group); });
  }
  while (!stopping.load()) {
    uint8_t size_bytes[4];
    if (!ReadFull(c->fd, size_bytes, 4)) break;
    int32_t size =
        static_cast<int32_t>((uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                             (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]});
    if (size < 8 || size > options.max_request_bytes) {
      spdlog::warn(
          "broker: {}: closing: request frame of {} bytes (accepted: 8..{}, "
          "socket.request.max.bytes)",
          peer, size, options.max_request_bytes);
      break;
    }
    const auto want = static_cast<size_t>(size);
    size_t have = 0;
    bool ok = true;
    while (have < want) {
      if (capacity < want && have == capacity) {
        size_t grown = std::min(want, std::max(capacity * 2, kChunk));
        auto bigger = std::make_unique_for_overwrite<uint8_t[]>(grown);
        if (have > 0) std::memcpy(bigger.get(), frame.get(), have);
        frame = std::move(bigger);
        capacity = grown;
      }
      size_t n = std::min(want, capacity) - have;
      if (!ReadFull(c->fd, frame.get() + have, n)) {
        ok = false;
        break;
      }
      have += n;
    }
    if (!ok) break;
    sync_first.clear();
    RequestHandler::Outcome outcome =
        handler->Handle(std::span<uint8_t>(frame.get(), want), info, &response, &sync_first);
    if (outcome == RequestHandler::Outcome::kClose) break;
    if (outcome == RequestHandler::Outcome::kNoResponse) continue;
    if (group_commit) {
      std::unique_lock lock(group.mu);
      group.cv.wait(lock,
                    [&] { return group.failed || group.queue.size() < kMaxPendingResponses; });
      if (group.failed) break;
      group.queue.push_back({std::move(response), std::move(sync_first)});
      group.cv.notify_all();
    } else if (!WriteFull(c->fd, response.data(), response.size())) {
      break;
    }
    if (capacity > 16 * kChunk) {  // do not keep a huge buffer for an idle client
      frame.reset();
      capacity = 0;
    }
  }
  if (group_commit) {
    {
      std::lock_guard lock(group.mu);
      group.closing = true;
      group.cv.notify_all();
    }
    responder.join();
  }
  ::shutdown(c->fd, SHUT_RDWR);
  c->done.store(true);
}

void Broker::Impl::Respond(int fd, const std::string& peer, GroupCommit* group) {
  std::unique_lock lock(group->mu);
  for (;;) {
    group->cv.wait(lock, [&] { return group->closing || !group->queue.empty(); });
    if (group->queue.empty()) return;  // closing, and nothing left to answer
    // Everything that queued up while the last flush ran shares this one.
    std::deque<PendingResponse> batch;
    batch.swap(group->queue);
    group->cv.notify_all();
    lock.unlock();
    std::vector<PartitionLog*> logs;
    for (const PendingResponse& p : batch) {
      for (const auto& log : p.sync_first) {
        if (std::find(logs.begin(), logs.end(), log.get()) == logs.end()) {
          logs.push_back(log.get());
        }
      }
    }
    Status synced = SyncAll(logs);
    bool ok = synced.ok();
    if (!ok) {
      // The appends are written but not durable: never acknowledge them.
      // Closing tells the client the outcome is unknown; its retry is
      // de-duplicated by the idempotent-producer state.
      spdlog::error("broker: {}: closing: cannot make appends durable: {}", peer,
                    synced.ToString());
    }
    for (size_t i = 0; ok && i < batch.size(); ++i) {
      ok = WriteFull(fd, batch[i].response.data(), batch[i].response.size());
    }
    lock.lock();
    if (!ok) {
      group->failed = true;
      group->queue.clear();
      group->cv.notify_all();
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

Status Broker::Impl::SyncAll(const std::vector<PartitionLog*>& logs) {
  // fdatasync()s of different files overlap in the device: run a few at once.
  std::vector<Status> results(logs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < logs.size(); i = next++) results[i] = logs[i]->SyncData();
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < std::min<size_t>(logs.size(), 4); ++i) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {  // fewer helpers; this thread works too
      break;
    }
  }
  worker();
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

void Broker::Impl::TimerLoop() {
  int64_t next_retention = clock->NowMs() + options.retention_check_interval_ms;
  std::unique_lock lock(timer_mu);
  while (!stopping.load()) {
    timer_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping.load(); });
    if (stopping.load()) break;
    lock.unlock();
    groups->Tick();
    if (clock->NowMs() >= next_retention) {
      int deleted = topics->ApplyRetention();
      if (deleted > 0) spdlog::info("broker: retention deleted {} segment(s)", deleted);
      next_retention = clock->NowMs() + options.retention_check_interval_ms;
    }
    lock.lock();
  }
}

void Broker::Impl::Collect(observe::Scrape& s) {
  {
    std::lock_guard lock(conn_mu);
    s.Gauge("broker_connections", "Client connections open", {},
            static_cast<double>(connections.size()));
  }
  for (const auto& t : topics->List()) {
    for (size_t p = 0; p < t->partitions.size(); ++p) {
      const PartitionLog& log = *t->partitions[p];
      const observe::Labels labels = {{"topic", t->name}, {"partition", std::to_string(p)}};
      s.Gauge("broker_log_size_bytes", "Bytes of a partition's log segments", labels,
              static_cast<double>(log.size_bytes()));
      s.Gauge("broker_log_end_offset", "Next offset a partition will assign (high watermark)",
              labels, static_cast<double>(log.high_watermark()));
      s.Gauge("broker_log_start_offset", "First offset still in a partition's log", labels,
              static_cast<double>(log.log_start_offset()));
    }
  }
}

void Broker::Impl::StopAll() {
  if (stopping.exchange(true)) return;
  if (collector_id >= 0) options.metrics->RemoveCollector(collector_id);
  {
    std::lock_guard lock(timer_mu);
    timer_cv.notify_all();
  }
  if (accept_thread.joinable()) accept_thread.join();
  if (timer_thread.joinable()) timer_thread.join();
  if (listen_fd >= 0) ::close(listen_fd);
  listen_fd = -1;
  if (handler) handler->Shutdown();
  if (groups) groups->Shutdown();
  {
    std::lock_guard lock(conn_mu);
    for (Connection& c : connections) ::shutdown(c.fd, SHUT_RDWR);
  }
  std::lock_guard lock(conn_mu);
  for (Connection& c : connections) {
    if (c.thread.joinable()) c.thread.join();
    ::close(c.fd);
  }
  connections.clear();
  if (topics) topics->Close();
  if (lock_fd >= 0) {
    // Only the broker that holds the folder's lock owns its address file.
    std::error_code ec;
    std::filesystem::remove(options.data_dir / kAddressFile, ec);
    ::close(lock_fd);  // releases the flock
    lock_fd = -1;
  }
  spdlog::info("broker: stopped");
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() { Stop(); }

Result<std::unique_ptr<Broker>> Broker::Start(BrokerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->clock = options.clock != nullptr ? options.clock : &SystemClock::Instance();
  std::string host;
  uint16_t port = 0;
  WEIR_RETURN_IF_ERROR(ParseListen(options.listen, &host, &port));
  if (options.data_dir.empty()) {
    return Status::InvalidArgument("the broker needs a data folder (--data DIR)");
  }
  if (options.message_max_bytes < 1 || options.max_request_bytes < 1024) {
    return Status::InvalidArgument("message.max.bytes and socket.request.max.bytes must be > 0");
  }

  // Every segment keeps descriptors open and every connection has one:
  // lift the soft limit to the hard one (1024 is a common default).
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto lock_fd = LockDataDir(options.data_dir);
  if (!lock_fd.ok()) return lock_fd.status();
  impl->lock_fd = *lock_fd;
  impl->options.data_dir = options.data_dir;  // so that a failed start releases the lock

  TopicDefaults defaults;
  defaults.retention_ms = options.log_retention_ms;
  defaults.segment_bytes = options.log_segment_bytes;
  defaults.max_message_bytes = options.message_max_bytes;
  defaults.num_partitions = options.default_partitions;
  defaults.flush = options.fsync ? FlushPolicy::kAlways : FlushPolicy::kOnWrite;
  auto topics = TopicManager::Open(options.data_dir, defaults, *impl->clock);
  if (!topics.ok()) return topics.status();
  impl->topics = std::move(topics).value();

  GroupOptions group_options;
  group_options.initial_rebalance_delay_ms = options.group_initial_rebalance_delay_ms;
  group_options.fsync = options.fsync;
  auto groups = GroupCoordinator::Open(options.data_dir / "groups", group_options, *impl->clock);
  if (!groups.ok()) return groups.status();
  impl->groups = std::move(groups).value();

  // Bind.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_str = std::to_string(port);
  int gai = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::InvalidArgument(
        fmt::format("listen address \"{}\": {}", options.listen, gai_strerror(gai)));
  }
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return Status::Io(fmt::format("socket: {}", strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::freeaddrinfo(res);
    ::close(fd);
    return Status::Io(fmt::format("cannot listen on {}: {}", options.listen, strerror(e)));
  }
  ::freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  impl->port = bound.ss_family == AF_INET6
                   ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                   : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  impl->listen_fd = fd;
  impl->advertised_host = options.advertised_host;
  if (impl->advertised_host.empty()) {
    impl->advertised_host =
        (host.empty() || host == "0.0.0.0" || host == "::") ? "127.0.0.1" : host;
  }

  HandlerOptions ho;
  ho.advertised_host = impl->advertised_host;
  ho.port = impl->port;
  ho.auto_create_topics = options.auto_create_topics;
  ho.clock = impl->clock;
  ho.metrics = options.metrics;
  impl->handler = std::make_unique<RequestHandler>(*impl->topics, *impl->groups, ho);
  impl->options = std::move(options);

  {
    // Other processes find this broker through its address file.
    std::filesystem::path tmp = impl->options.data_dir / "broker.addr.tmp";
    std::ofstream out(tmp);
    out << impl->advertised_host << ":" << impl->port << "\n" << ::getpid() << "\n";
    out.close();
    std::error_code ec;
    std::filesystem::rename(tmp, impl->options.data_dir / kAddressFile, ec);
    if (!out || ec) {
      return Status::Io(
          fmt::format("cannot write {}", (impl->options.data_dir / kAddressFile).string()));
    }
  }
  Impl* p = impl.get();
  impl->accept_thread = std::thread([p] { p->AcceptLoop(); });
  impl->timer_thread = std::thread([p] { p->TimerLoop(); });
  if (impl->options.metrics != nullptr) {
    impl->collector_id =
        impl->options.metrics->AddCollector([p](observe::Scrape& s) { p->Collect(s); });
  }
  spdlog::info("broker: listening on {}:{} (advertised {}:{}), data in {}{}", host, impl->port,
               impl->advertised_host, impl->port, impl->options.data_dir.string(),
               impl->options.fsync ? ", fsync before acknowledging" : "");
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

std::string Broker::bootstrap_servers() const {
  return fmt::format("{}:{}", impl_->advertised_host, impl_->port);
}
uint16_t Broker::port() const { return impl_->port; }
const std::filesystem::path& Broker::data_dir() const { return impl_->options.data_dir; }
int Broker::RunRetention() { return impl_->topics->ApplyRetention(); }
void Broker::TickGroups() { impl_->groups->Tick(); }
void Broker::Stop() {
  if (impl_) impl_->StopAll();
}

}  // namespace weir::broker
