#include "weir/ops/line_producer.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "weir/kafka/producer.h"

namespace weir::ops {
namespace {

// Collects delivery outcomes on the producer's poll thread.
class Accounting : public kafka::DeliveryListener {
 public:
  explicit Accounting(size_t max_kept) : max_kept_(max_kept) {}

  void OnDelivery(uint64_t token, const Status& status, std::string_view /*topic*/,
                  Partition /*partition*/, Offset /*offset*/,
                  std::chrono::microseconds latency) override {
    if (status.ok()) {
      delivered_.fetch_add(1, std::memory_order_relaxed);
      // Called on the reading thread (it polls); read after the producer is closed.
      if (latency.count() >= 0) latencies_us_.push_back(latency.count());
      return;
    }
    failed_.fetch_add(1, std::memory_order_relaxed);
    AddFailure(token, status);
  }

  void AddFailure(uint64_t line, Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failures_.size() < max_kept_) failures_.push_back(LineFailure{line, std::move(status)});
  }

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failed() const { return failed_.load(); }
  // Fills the summary's percentiles; call after the producer is closed.
  void Percentiles(LineProducerSummary& sum) {
    std::vector<int64_t>& v = latencies_us_;
    if (v.empty()) return;
    auto at = [&v](double q) {
      size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
      std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(i), v.end());
      return std::chrono::microseconds(v[i]);
    };
    sum.latency_p50 = at(0.50);
    sum.latency_p95 = at(0.95);
    sum.latency_p99 = at(0.99);
    sum.latency_max = std::chrono::microseconds(*std::max_element(v.begin(), v.end()));
  }

  std::vector<LineFailure> TakeFailures() {
    std::lock_guard<std::mutex> lock(mu_);
    std::sort(failures_.begin(), failures_.end(),
              [](const LineFailure& a, const LineFailure& b) { return a.line < b.line; });
    return std::move(failures_);
  }

 private:
  const size_t max_kept_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
  std::mutex mu_;
  std::vector<LineFailure> failures_;
  std::vector<int64_t> latencies_us_;
};

// Splits "a.b.c" into its parts once.
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('.', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

Result<LineProducerSummary> ProduceLines(const kafka::ClientConfig& config, int fd,
                                         const LineProducerOptions& options) {
  if (options.format != LineFormat::kJson && !options.key_field.empty()) {
    return Status::InvalidArgument("--key-field needs --format json");
  }
  Accounting accounting(options.max_failures_kept);
  kafka::ProducerOptions popts;
  popts.listener = &accounting;
  // Reports are served on this thread between sends (as kcat does): on two
  // cores a separate poll thread only adds context switches.
  popts.poll_thread = false;
  auto producer_or = kafka::Producer::Create(config, popts);
  if (!producer_or.ok()) return producer_or.status();
  std::unique_ptr<kafka::Producer> producer = std::move(producer_or).value();

  std::vector<HeaderView> headers;
  for (const Header& h : options.headers) {
    headers.push_back(
        HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
  }
  const std::vector<std::string> key_path = SplitPath(options.key_field);
  simdjson::dom::parser parser;
  std::string key_text;  // reused for non-string keys

  LineProducerSummary sum;
  const auto start = std::chrono::steady_clock::now();
  constexpr size_t kChunk = 1 << 20;
  // The slack after the data lets simdjson read past a line's end safely.
  std::vector<char> buf(2 * kChunk + simdjson::SIMDJSON_PADDING);
  size_t have = 0;  // bytes of buf holding unconsumed input
  uint64_t line_no = 0;
  bool eof = false;
  Status fatal;

  auto handle_line = [&](const char* p, size_t n) {
    ++line_no;
    if (options.format == LineFormat::kJson && n > 0 && p[n - 1] == '\r') --n;
    if (n == 0) return;  // empty lines are skipped
    ++sum.lines;
    kafka::ProduceRequest req;
    req.topic = options.topic;
    req.partition = options.partition;
    req.value = std::string_view(p, n);
    req.headers = headers;
    if (options.fixed_key) req.key = *options.fixed_key;
    if (options.format == LineFormat::kJson) {
      simdjson::dom::element doc;
      auto err = parser.parse(reinterpret_cast<const uint8_t*>(p), n, false).get(doc);
      if (err) {
        ++sum.refused;
        accounting.AddFailure(line_no, Status::InvalidArgument(fmt::format(
                                           "invalid JSON: {}", simdjson::error_message(err))));
        return;
      }
      if (!options.key_field.empty()) {
        simdjson::dom::element cur = doc;
        for (const std::string& part : key_path) {
          if (cur.at_key(part).get(cur) != simdjson::SUCCESS) {
            err = simdjson::NO_SUCH_FIELD;
            break;
          }
        }
        if (err) {
          ++sum.refused;
          accounting.AddFailure(line_no, Status::InvalidArgument(fmt::format(
                                             "key field \"{}\" is missing", options.key_field)));
          return;
        }
        if (cur.is_null()) {
          req.key.reset();
        } else if (cur.is_string()) {
          req.key = std::string_view(cur.get_string().value_unsafe());
        } else {
          key_text = simdjson::minify(cur);
          req.key = key_text;
        }
      }
    }
    Status s = producer->SendWithToken(req, line_no);
    if (!s.ok()) {
      ++sum.refused;
      accounting.AddFailure(line_no, std::move(s));
      return;
    }
    ++sum.produced;
    if ((sum.produced & 1023) == 0) producer->Poll(std::chrono::milliseconds(0));
  };

  while (!eof) {
    if (buf.size() - simdjson::SIMDJSON_PADDING - have < kChunk) {
      // A line longer than the buffer: grow it.
      buf.resize(buf.size() * 2);
    }
    ssize_t r = read(fd, buf.data() + have, buf.size() - simdjson::SIMDJSON_PADDING - have);
    if (r < 0) {
      if (errno == EINTR) continue;
      fatal = Status::Io(fmt::format("reading input: {}", std::strerror(errno)));
      break;
    }
    if (r == 0) eof = true;
    have += static_cast<size_t>(r);
    size_t pos = 0;
    while (pos < have) {
      const char* nl =
          static_cast<const char*>(std::memchr(buf.data() + pos, options.delimiter, have - pos));
      if (nl == nullptr) break;
      size_t len = static_cast<size_t>(nl - (buf.data() + pos));
      handle_line(buf.data() + pos, len);
      pos += len + 1;
    }
    if (eof && pos < have) {  // last line without a delimiter
      handle_line(buf.data() + pos, have - pos);
      pos = have;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
  }

  Status closed = producer->Close(options.flush_timeout);
  sum.elapsed = std::chrono::steady_clock::now() - start;
  sum.delivered = accounting.delivered();
  sum.failed = accounting.failed();
  sum.failures = accounting.TakeFailures();
  accounting.Percentiles(sum);
  if (!fatal.ok()) return fatal;
  (void)closed;  // Close() reports every leftover record as failed; the counts say it all.
  return sum;
}

}  // namespace weir::ops
