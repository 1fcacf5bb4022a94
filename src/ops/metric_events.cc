// The metrics topic: MetricEventPublisher samples gauges and publishes them
// as MetricEvents; MetricsConsumer turns MetricEvents back into gauges of an
// observe::Registry. Contract in include/weir/ops/metric_events.h, series
// and naming rules in docs/metrics.md.
#include "weir/ops/metric_events.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "common/uuid.h"
#include "common/wall_clock.h"
#include "consume/decoder.h"
#include "weir/consume/dead_letter.h"
#include "weir/consume/runtime.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"
#include "weir/schema/avro.h"

namespace weir::ops {
namespace {

using nlohmann::ordered_json;
using SteadyTime = consume::Clock::TimePoint;

constexpr std::array<std::string_view, 6> kMetricTypeNames = {
    "FPS", "LATENCY", "GPU_UTIL", "MEMORY", "SERVICE_HEALTH", "CUSTOM"};

// The labels every metric event series has, in this order, before its tags.
constexpr std::array<std::string_view, 4> kFixedLabels = {"host_id", "site_id", "metric_type",
                                                          "unit"};

// Logs at most one line per interval; counts what it held back.
class LogLimiter {
 public:
  // True when a line may be logged now; |suppressed| is set to the number of
  // lines held back since the last one.
  bool Allow(uint64_t* suppressed) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(10)) {
      ++suppressed_;
      return false;
    }
    logged_ = true;
    last_ = now;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::mutex mu_;
  bool logged_ = false;                         // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_;  // GUARDED_BY(mu_)
  uint64_t suppressed_ = 0;                     // GUARDED_BY(mu_)
};

std::string Suppressed(uint64_t n) {
  return n == 0 ? std::string() : fmt::format(" ({} similar line(s) held back)", n);
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Lower-case snake_case of [a-z0-9_]: camelCase split, anything else '_',
// a leading digit preceded by '_'.
std::string SnakeCase(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 4);
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (IsUpper(c) && i > 0 && (IsLower(s[i - 1]) || IsDigit(s[i - 1]))) out += '_';
    if (IsUpper(c)) {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (IsLower(c) || IsDigit(c) || c == '_') {
      out += c;
    } else {
      out += '_';
    }
  }
  if (!out.empty() && IsDigit(out.front())) out.insert(out.begin(), '_');
  return out;
}

bool EndsWithWord(std::string_view name, std::string_view word) {
  if (name == word) return true;
  return name.size() > word.size() && name.ends_with(word) &&
         name[name.size() - word.size() - 1] == '_';
}

double ProcessCpuSeconds() {
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return std::numeric_limits<double>::quiet_NaN();
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

double ResidentMemoryBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0;
  uint64_t resident = 0;
  if (!(statm >> size >> resident)) return std::numeric_limits<double>::quiet_NaN();
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(resident) * static_cast<double>(page);
}

std::string HostName() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return {};
  return std::string(buf.data());
}

// True when |type| is Avro and its "value" field a float: the decoded
// double then holds a float's exact value, 87.30000305175781 for 87.3.
bool HasFloatValue(const publish::EventCodec* type) {
  if (type == nullptr || type->avro() == nullptr) return false;
  const schema::AvroNode& root = type->avro()->root();
  if (root.type != schema::AvroType::kRecord) return false;
  const int i = root.FieldIndex("value");
  return i >= 0 && root.fields[static_cast<size_t>(i)].type->type == schema::AvroType::kFloat;
}

// The double of the shortest decimal that reads back as the float |v|
// (87.3), or |v| when it is not a float's value.
double ShortestFloat(double v) {
  if (!std::isfinite(v)) return v;
  const float f = static_cast<float>(v);
  if (static_cast<double>(f) != v) return v;
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f);
  if (ec != std::errc()) return v;
  double out = v;
  std::from_chars(buf.data(), end, out);
  return out;
}

std::string Coordinates(const Record& r) {
  return fmt::format("{}/{}@{}", r.topic(), r.partition().value(), r.offset().value());
}

// Reads an optional string field: absent (or null when |null_ok|) leaves
// |out| alone.
Status ReadString(const ordered_json& j, const char* field, bool required, bool null_ok,
                  std::string* out, bool* present = nullptr) {
  if (present != nullptr) *present = false;
  auto it = j.find(field);
  if (it == j.end() || (null_ok && it->is_null())) {
    if (required) return Status::InvalidArgument(fmt::format("{} is missing", field));
    return Status::Ok();
  }
  if (!it->is_string()) {
    return Status::InvalidArgument(fmt::format("{} is a {}, not a string", field, it->type_name()));
  }
  *out = it->get<std::string>();
  if (present != nullptr) *present = true;
  return Status::Ok();
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  const auto i = static_cast<size_t>(type);
  return i < kMetricTypeNames.size() ? kMetricTypeNames[i] : "CUSTOM";
}

std::optional<MetricType> ParseMetricType(std::string_view name) {
  for (size_t i = 0; i < kMetricTypeNames.size(); ++i) {
    if (kMetricTypeNames[i] == name) return static_cast<MetricType>(i);
  }
  return std::nullopt;
}

std::string MetricEventToJson(const MetricEvent& e) {
  ordered_json j;
  j["metric_id"] = e.metric_id;
  j["timestamp"] = e.timestamp;
  j["host_id"] = e.host_id;
  j["site_id"] = e.site_id ? ordered_json(*e.site_id) : ordered_json(nullptr);
  j["metric_type"] = std::string(MetricTypeName(e.metric_type));
  j["metric_name"] = e.metric_name;
  if (std::isnan(e.value)) {
    j["value"] = "NaN";
  } else if (std::isinf(e.value)) {
    j["value"] = e.value > 0 ? "Infinity" : "-Infinity";
  } else {
    j["value"] = e.value;
  }
  j["unit"] = e.unit;
  j["tags"] = ordered_json::object();
  for (const auto& [k, v] : e.tags) j["tags"][k] = v;
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

Result<MetricEvent> ParseMetricEvent(std::string_view json) {
  ordered_json j = ordered_json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("not a MetricEvent: not a JSON object");
  }
  MetricEvent e;
  auto bad = [](const Status& s) { return Status::InvalidArgument("MetricEvent " + s.message()); };
  if (Status s = ReadString(j, "host_id", true, false, &e.host_id); !s.ok()) return bad(s);
  if (e.host_id.empty()) return bad(Status::InvalidArgument("host_id is empty"));
  if (Status s = ReadString(j, "metric_name", true, false, &e.metric_name); !s.ok()) return bad(s);
  if (e.metric_name.empty()) return bad(Status::InvalidArgument("metric_name is empty"));
  std::string type;
  if (Status s = ReadString(j, "metric_type", true, false, &type); !s.ok()) return bad(s);
  std::optional<MetricType> t = ParseMetricType(type);
  if (!t) {
    return bad(Status::InvalidArgument(fmt::format("metric_type \"{}\" is not one of {}", type,
                                                   fmt::join(kMetricTypeNames, ", "))));
  }
  e.metric_type = *t;
  auto value = j.find("value");
  if (value == j.end()) return bad(Status::InvalidArgument("value is missing"));
  if (value->is_number()) {
    e.value = value->get<double>();
  } else if (value->is_string() && *value == "NaN") {
    e.value = std::numeric_limits<double>::quiet_NaN();
  } else if (value->is_string() && *value == "Infinity") {
    e.value = std::numeric_limits<double>::infinity();
  } else if (value->is_string() && *value == "-Infinity") {
    e.value = -std::numeric_limits<double>::infinity();
  } else {
    return bad(Status::InvalidArgument(
        fmt::format("value is a {}, not a number", std::string(value->type_name()))));
  }
  if (Status s = ReadString(j, "metric_id", false, false, &e.metric_id); !s.ok()) return bad(s);
  if (Status s = ReadString(j, "timestamp", false, false, &e.timestamp); !s.ok()) return bad(s);
  if (Status s = ReadString(j, "unit", false, false, &e.unit); !s.ok()) return bad(s);
  std::string site;
  bool has_site = false;
  if (Status s = ReadString(j, "site_id", false, true, &site, &has_site); !s.ok()) return bad(s);
  if (has_site) e.site_id = std::move(site);
  auto tags = j.find("tags");
  if (tags != j.end() && !tags->is_null()) {
    if (!tags->is_object()) {
      return bad(Status::InvalidArgument(
          fmt::format("tags is a {}, not an object", std::string(tags->type_name()))));
    }
    for (const auto& [k, v] : tags->items()) {
      if (!v.is_string()) {
        return bad(Status::InvalidArgument(
            fmt::format("tags.{} is a {}, not a string", k, std::string(v.type_name()))));
      }
      e.tags[k] = v.get<std::string>();
    }
  }
  return e;
}

std::string NewMetricId() { return NewUuidV4(); }

std::string MetricFamilyName(std::string_view metric_name) {
  std::string out = SnakeCase(metric_name);
  for (std::string_view suffix : {"total", "count", "sum", "bucket"}) {
    if (EndsWithWord(out, suffix)) {
      out += "_value";
      break;
    }
  }
  return out;
}

std::string MetricLabelName(std::string_view key) {
  std::string out = SnakeCase(key);
  if (out.empty()) return "_";
  if (out.starts_with("__")) return "tag" + out;
  for (std::string_view fixed : kFixedLabels) {
    if (out == fixed) return "tag_" + out;
  }
  if (out == "le" || out == "quantile") return "tag_" + out;
  return out;
}

bool IsReservedMetricFamily(std::string_view family) {
  for (std::string_view ns : {"consumer_", "publisher_", "multi_topic_", "dlq_", "metric_event"}) {
    if (family.starts_with(ns)) return true;
  }
  return false;
}

// --- MetricEventPublisher ------------------------------------------------------

namespace {

struct Source {
  MetricType type = MetricType::kCustom;
  std::string name;
  std::string unit;
  std::map<std::string, std::string> tags;
  std::function<double()> read;
  bool rate = false;
  // A rate's previous sample; touched only by rounds (under round_mu).
  bool has_previous = false;
  double previous = 0;
  SteadyTime previous_at;
};

struct PublisherCounters {
  std::atomic<uint64_t> rounds{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> source_errors{0};
  std::atomic<uint64_t> skipped{0};
};

// The outcomes a round waits for. Shared with the Publisher's callbacks,
// which may run after the round stopped waiting (Stop()).
struct Round {
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;      // GUARDED_BY(mu)
  bool cancelled = false;  // GUARDED_BY(mu)
  Status first_error;      // GUARDED_BY(mu)
};

}  // namespace

struct MetricEventPublisher::Impl {
  publish::Publisher* publisher = nullptr;
  MetricEventPublisherOptions options;
  const consume::Clock* clock = nullptr;
  std::shared_ptr<PublisherCounters> counters = std::make_shared<PublisherCounters>();

  std::mutex round_mu;  // one round at a time

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Source>> sources;  // GUARDED_BY(mu); never removed
  std::shared_ptr<Round> current;                // GUARDED_BY(mu)
  bool stopping = false;                         // GUARDED_BY(mu)
  std::thread thread;                            // GUARDED_BY(mu)

  Status Add(MetricType type, std::string name, std::string unit,
             std::map<std::string, std::string> tags, std::function<double()> read, bool rate) {
    if (name.empty()) return Status::InvalidArgument("metric events: a source needs a name");
    if (!read) {
      return Status::InvalidArgument(fmt::format("metric events: source {} has no function", name));
    }
    auto s = std::make_unique<Source>();
    s->type = type;
    s->name = std::move(name);
    s->unit = std::move(unit);
    s->tags = options.tags;
    for (auto& [k, v] : tags) s->tags[k] = std::move(v);
    s->read = std::move(read);
    s->rate = rate;
    std::lock_guard<std::mutex> lock(mu);
    sources.push_back(std::move(s));
    return Status::Ok();
  }

  // The value |s| publishes this round, or nullopt (counted as skipped).
  std::optional<double> Sample(Source& s, SteadyTime now, Status* error) {
    double v = 0;
    try {
      v = s.read();
    } catch (const std::exception& e) {
      *error = Status::Internal(fmt::format("metric {}: its function threw: {}", s.name, e.what()));
    } catch (...) {
      *error = Status::Internal(fmt::format("metric {}: its function threw", s.name));
    }
    if (!error->ok()) {
      ++counters->source_errors;
      spdlog::warn("metric events: {}", error->message());
      return std::nullopt;
    }
    if (s.rate && std::isfinite(v)) {
      if (!s.has_previous) {
        s.has_previous = true;
        s.previous = v;
        s.previous_at = now;
        ++counters->skipped;
        return std::nullopt;
      }
      const double dt = std::chrono::duration<double>(now - s.previous_at).count();
      if (dt <= 0) {
        ++counters->skipped;
        return std::nullopt;
      }
      // A counter that went down restarted from 0.
      const double increase = v >= s.previous ? v - s.previous : v;
      s.previous = v;
      s.previous_at = now;
      v = increase / dt;
    }
    if (!std::isfinite(v)) {
      ++counters->skipped;
      return std::nullopt;
    }
    return v;
  }

  Status PublishRound() {
    std::lock_guard<std::mutex> round_lock(round_mu);
    ++counters->rounds;
    std::vector<Source*> snapshot;
    auto round = std::make_shared<Round>();
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& s : sources) snapshot.push_back(s.get());
      current = round;
      round->cancelled = stopping;
    }
    const SteadyTime now = clock->Now();
    const std::string timestamp = consume::FormatDlqTimestamp(WallClockMs());
    Status first_error;
    std::vector<std::pair<std::string, std::string>> events;  // name, JSON
    for (Source* s : snapshot) {
      Status error;
      std::optional<double> v = Sample(*s, now, &error);
      if (!error.ok() && first_error.ok()) first_error = error;
      if (!v) continue;
      MetricEvent e;
      e.metric_id = NewMetricId();
      e.timestamp = timestamp;
      e.host_id = options.host_id;
      e.site_id = options.site_id;
      e.metric_type = s->type;
      e.metric_name = s->name;
      e.value = *v;
      e.unit = s->unit;
      e.tags = s->tags;
      events.emplace_back(s->name, MetricEventToJson(e));
    }
    {
      std::lock_guard<std::mutex> lock(round->mu);
      round->pending = events.size();
    }
    for (const auto& [name, json] : events) {
      publisher->PublishAsync(
          options.event_type, json,
          [round, counters = counters, event_type = options.event_type,
           metric = name](publish::PublishResult r) {
            if (r.accepted()) {
              ++counters->published;
            } else {
              ++counters->failed;
              spdlog::warn("metric events: {} {} not published ({}): {}", event_type, metric,
                           publish::PublishOutcomeName(r.outcome), r.status.ToString());
            }
            std::lock_guard<std::mutex> lock(round->mu);
            if (!r.accepted() && round->first_error.ok()) {
              round->first_error = r.status.WithContext(fmt::format("metric {}", metric));
            }
            --round->pending;
            round->cv.notify_all();
          });
    }
    Status publish_error;
    bool cancelled = false;
    {
      std::unique_lock<std::mutex> lock(round->mu);
      round->cv.wait(lock, [&] { return round->pending == 0 || round->cancelled; });
      cancelled = round->pending > 0;
      publish_error = round->first_error;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (current == round) current.reset();
    }
    if (cancelled) {
      return Status::Cancelled(
          "metric events: stopped before every event of the round had its outcome");
    }
    return first_error.ok() ? publish_error : first_error;
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    SteadyTime next = clock->Now();
    while (!stopping) {
      if (clock->Now() < next) {
        clock->WaitUntil(cv, lock, next);
        continue;
      }
      lock.unlock();
      try {
        Status s = PublishRound();
        if (!s.ok()) spdlog::debug("metric events: round: {}", s.ToString());
      } catch (const std::exception& e) {
        spdlog::error("metric events: round failed: {}", e.what());
      } catch (...) {
        spdlog::error("metric events: round failed");
      }
      lock.lock();
      next += options.interval;
      if (const SteadyTime now = clock->Now(); next <= now) next = now + options.interval;
    }
  }
};

MetricEventPublisher::MetricEventPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricEventPublisher::~MetricEventPublisher() { Stop(); }

Result<std::unique_ptr<MetricEventPublisher>> MetricEventPublisher::Create(
    publish::Publisher* publisher, MetricEventPublisherOptions options) {
  if (publisher == nullptr) return Status::InvalidArgument("metric events: no publisher");
  if (!publisher->HasEventType(options.event_type)) {
    return Status::NotFound(
        fmt::format("metric events: event type \"{}\" is not declared in weir.yaml (event_types:)",
                    options.event_type));
  }
  if (options.interval <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument(fmt::format(
        "metric events: the interval must be positive, not {} ms", options.interval.count()));
  }
  if (options.host_id.empty()) options.host_id = HostName();
  if (options.host_id.empty()) {
    return Status::InvalidArgument("metric events: no host_id given and gethostname() failed");
  }
  // A sample event shows whether the type takes MetricEvents.
  MetricEvent sample;
  sample.metric_id = NewMetricId();
  sample.timestamp = consume::FormatDlqTimestamp(WallClockMs());
  sample.host_id = options.host_id;
  sample.site_id = options.site_id;
  sample.metric_name = "weir_check";
  sample.value = 1.5;
  sample.unit = "none";
  sample.tags = options.tags;
  sample.tags["weir_check"] = "1";
  publish::PublishResult check = publisher->Check(options.event_type, MetricEventToJson(sample));
  if (!check.status.ok()) {
    std::string fields;
    for (const publish::FieldError& f : check.field_errors) {
      fields += fmt::format("; {}: {}", f.pointer.empty() ? "/" : f.pointer, f.message);
    }
    return Status::InvalidArgument(
        fmt::format("metric events: event type \"{}\" does not take MetricEvents: {}{}",
                    options.event_type, check.status.message(), fields));
  }
  auto impl = std::make_unique<Impl>();
  impl->publisher = publisher;
  impl->clock = options.clock != nullptr ? options.clock : &consume::Clock::Steady();
  impl->options = std::move(options);
  if (impl->options.process_metrics) {
    WEIR_RETURN_IF_ERROR(impl->Add(MetricType::kMemory, "process_resident_memory_bytes", "bytes",
                                   {}, ResidentMemoryBytes, false));
    // CPU seconds × 100 per second = percent of one core.
    WEIR_RETURN_IF_ERROR(impl->Add(
        MetricType::kCustom, "process_cpu_percent", "percent", {},
        [] { return ProcessCpuSeconds() * 100.0; }, true));
  }
  return std::unique_ptr<MetricEventPublisher>(new MetricEventPublisher(std::move(impl)));
}

Status MetricEventPublisher::AddGauge(MetricType type, std::string name, std::string unit,
                                      std::map<std::string, std::string> tags,
                                      std::function<double()> value) {
  return impl_->Add(type, std::move(name), std::move(unit), std::move(tags), std::move(value),
                    false);
}

Status MetricEventPublisher::AddRate(MetricType type, std::string name, std::string unit,
                                     std::map<std::string, std::string> tags,
                                     std::function<double()> counter) {
  return impl_->Add(type, std::move(name), std::move(unit), std::move(tags), std::move(counter),
                    true);
}

Status MetricEventPublisher::PublishNow() { return impl_->PublishRound(); }

Status MetricEventPublisher::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->thread.joinable()) {
    return Status::InvalidArgument("metric events: the publisher is already started");
  }
  impl_->stopping = false;
  Impl* raw = impl_.get();
  impl_->thread = std::thread([raw] { raw->Run(); });
  return Status::Ok();
}

void MetricEventPublisher::Stop() {
  std::thread thread;
  std::shared_ptr<Round> round;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->thread.joinable()) return;
    impl_->stopping = true;
    round = impl_->current;
    thread = std::move(impl_->thread);
  }
  impl_->cv.notify_all();
  if (round) {
    std::lock_guard<std::mutex> lock(round->mu);
    round->cancelled = true;
    round->cv.notify_all();
  }
  thread.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->stopping = false;
}

MetricEventPublisherStats MetricEventPublisher::Stats() const {
  const PublisherCounters& c = *impl_->counters;
  MetricEventPublisherStats s;
  s.rounds = c.rounds.load();
  s.published = c.published.load();
  s.failed = c.failed.load();
  s.source_errors = c.source_errors.load();
  s.skipped = c.skipped.load();
  return s;
}

const std::string& MetricEventPublisher::host_id() const { return impl_->options.host_id; }

// --- MetricsConsumer -----------------------------------------------------------

namespace {

// The gauges read from the topic: per family, the latest value of each
// label set. Shared with the registry's collector, which may still run
// while the consumer is destroyed.
class SeriesTable {
 public:
  SeriesTable(size_t max_series, std::chrono::milliseconds ttl, const consume::Clock* clock)
      : max_series_(max_series), ttl_(ttl), clock_(clock) {}

  enum class Outcome { kUpdated, kAdded, kLimit };

  // Sets the series |family|{labels} to |value|; |seen_ms| is the event's
  // time, for the host's last-seen gauge.
  Outcome Set(const std::string& family, std::string_view metric_name,
              const observe::Labels& labels, double value, const std::string& host,
              int64_t seen_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    const SteadyTime now = clock_->Now();
    Outcome outcome = Outcome::kUpdated;
    auto fam = families_.find(family);
    Series* series = nullptr;
    if (fam != families_.end()) {
      auto it = fam->second.series.find(labels);
      if (it != fam->second.series.end()) series = &it->second;
    }
    if (series == nullptr) {
      if (max_series_ > 0 && count_ >= max_series_) {
        // At the limit, look for expired series at most once a second: a
        // flood of new series must not cost a sweep each.
        if (!swept_ || now - last_sweep_ >= std::chrono::seconds(1)) {
          swept_ = true;
          last_sweep_ = now;
          ExpireLocked(now);
        }
        if (count_ >= max_series_) return Outcome::kLimit;
        fam = families_.find(family);  // expiry may have removed it
      }
      if (fam == families_.end()) {
        fam = families_.emplace(family, Family{}).first;
        fam->second.help =
            fmt::format("Latest value of the MetricEvents named {} (metrics topic)", metric_name);
      }
      series = &fam->second.series[labels];
      ++count_;
      outcome = Outcome::kAdded;
    }
    series->value = value;
    series->updated = now;
    Host& h = hosts_[host];
    h.seen_ms = std::max(h.seen_ms, seen_ms);
    h.updated = now;
    return outcome;
  }

  void Collect(observe::Scrape& scrape) {
    std::lock_guard<std::mutex> lock(mu_);
    ExpireLocked(clock_->Now());
    for (const auto& [name, fam] : families_) {
      for (const auto& [labels, series] : fam.series) {
        scrape.Gauge(name, fam.help, labels, series.value);
      }
    }
    for (const auto& [host, h] : hosts_) {
      scrape.Gauge("metric_event_last_seen_timestamp_seconds",
                   "Time of the latest MetricEvent of each host (its timestamp field, else its "
                   "record's), in seconds since the epoch",
                   {{"host_id", host}}, static_cast<double>(h.seen_ms) / 1000.0);
    }
    scrape.Gauge("metric_events_series", "MetricEvent series held (at most max_series)", {},
                 static_cast<double>(count_));
  }

  size_t series() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  uint64_t expired() const {
    std::lock_guard<std::mutex> lock(mu_);
    return expired_;
  }

 private:
  struct Series {
    double value = 0;
    SteadyTime updated;
  };
  struct Family {
    std::string help;
    std::map<observe::Labels, Series> series;
  };
  struct Host {
    int64_t seen_ms = 0;
    SteadyTime updated;
  };

  void ExpireLocked(SteadyTime now) {
    if (ttl_ <= std::chrono::milliseconds(0)) return;
    for (auto fam = families_.begin(); fam != families_.end();) {
      auto& series = fam->second.series;
      for (auto it = series.begin(); it != series.end();) {
        if (now - it->second.updated > ttl_) {
          it = series.erase(it);
          --count_;
          ++expired_;
        } else {
          ++it;
        }
      }
      fam = series.empty() ? families_.erase(fam) : std::next(fam);
    }
    for (auto it = hosts_.begin(); it != hosts_.end();) {
      it = now - it->second.updated > ttl_ ? hosts_.erase(it) : std::next(it);
    }
  }

  const size_t max_series_;
  const std::chrono::milliseconds ttl_;
  const consume::Clock* const clock_;
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
  std::map<std::string, Host> hosts_;       // GUARDED_BY(mu_)
  size_t count_ = 0;                        // GUARDED_BY(mu_)
  uint64_t expired_ = 0;                    // GUARDED_BY(mu_)
  bool swept_ = false;                      // GUARDED_BY(mu_)
  SteadyTime last_sweep_;                   // GUARDED_BY(mu_)
};

}  // namespace

struct MetricsConsumer::Impl {
  MetricsConsumerOptions options;
  std::unique_ptr<consume::RecordDecoder> decoder;
  std::unique_ptr<consume::GroupRuntime> runtime;
  observe::Registry* metrics = nullptr;
  int collector = 0;
  std::shared_ptr<SeriesTable> table;
  observe::Counter* received = nullptr;
  observe::Counter* invalid = nullptr;
  observe::Counter* dropped_limit = nullptr;
  observe::Counter* dropped_reserved = nullptr;
  std::atomic<uint64_t> n_received{0};
  std::atomic<uint64_t> n_invalid{0};
  std::atomic<uint64_t> n_dropped_limit{0};
  std::atomic<uint64_t> n_dropped_reserved{0};
  LogLimiter invalid_log;
  LogLimiter limit_log;
  LogLimiter reserved_log;

  void Received() {
    ++n_received;
    received->Inc();
  }

  consume::HandlerResult Invalid(const Record& r, std::string_view why) {
    Received();
    ++n_invalid;
    invalid->Inc();
    uint64_t held = 0;
    if (invalid_log.Allow(&held)) {
      spdlog::warn("metrics consumer: {}: not a valid MetricEvent: {}{}", Coordinates(r), why,
                   Suppressed(held));
    }
    return consume::HandlerResult::Ok();
  }

  // A field too long for a label, or "".
  std::string TooLong(const MetricEvent& e) const {
    const size_t max = options.max_field_bytes;
    if (max == 0) return {};
    auto check = [max](std::string_view field, std::string_view v) {
      return v.size() > max ? fmt::format("{} is {} bytes long (at most {})", field, v.size(), max)
                            : std::string();
    };
    const std::string_view site = e.site_id ? std::string_view(*e.site_id) : std::string_view();
    const std::array<std::pair<std::string_view, std::string_view>, 4> fields = {{
        {"metric_name", e.metric_name},
        {"host_id", e.host_id},
        {"site_id", site},
        {"unit", e.unit},
    }};
    for (const auto& [field, v] : fields) {
      if (std::string why = check(field, v); !why.empty()) return why;
    }
    for (const auto& [k, v] : e.tags) {
      if (std::string why = check("a tag key", k); !why.empty()) return why;
      if (std::string why = check(fmt::format("tags.{}", k), v); !why.empty()) return why;
    }
    return {};
  }

  consume::HandlerResult Handle(const consume::Message& m) {
    const Record& r = m.record();
    const publish::EventCodec* type = decoder->TypeOf(r);
    std::string storage;
    std::string_view json;
    consume::DecodeError error;
    if (!decoder->Decode(r, type, &storage, &json, &error)) {
      // Only an unreachable registry is worth a retry.
      if (error.error_class == ErrorClass::kProcessingFailure) {
        return consume::HandlerResult::Retry(error.message);
      }
      return Invalid(r, error.message);
    }
    auto event = ParseMetricEvent(json);
    if (!event.ok()) return Invalid(r, event.status().message());
    if (options.max_tags > 0 && event->tags.size() > options.max_tags) {
      return Invalid(r, fmt::format("{} tags (at most {})", event->tags.size(), options.max_tags));
    }
    if (std::string why = TooLong(*event); !why.empty()) return Invalid(r, why);
    if (HasFloatValue(type)) event->value = ShortestFloat(event->value);
    Received();
    const std::string family = MetricFamilyName(event->metric_name);
    if (IsReservedMetricFamily(family)) {
      ++n_dropped_reserved;
      dropped_reserved->Inc();
      uint64_t held = 0;
      if (reserved_log.Allow(&held)) {
        spdlog::warn(
            "metrics consumer: {}: MetricEvent {} (host {}) dropped: {} is a namespace of weir's "
            "own series{}",
            Coordinates(r), event->metric_name, event->host_id, family, Suppressed(held));
      }
      return consume::HandlerResult::Ok();
    }
    observe::Labels labels;
    labels.reserve(kFixedLabels.size() + event->tags.size());
    labels.emplace_back("host_id", event->host_id);
    labels.emplace_back("site_id", event->site_id.value_or(""));
    labels.emplace_back("metric_type", std::string(MetricTypeName(event->metric_type)));
    labels.emplace_back("unit", event->unit);
    // Tags in label-name order; of two keys with one label name, the first.
    std::map<std::string, std::string> tag_labels;
    for (const auto& [k, v] : event->tags) tag_labels.emplace(MetricLabelName(k), v);
    for (auto& [k, v] : tag_labels) labels.emplace_back(k, std::move(v));
    int64_t seen_ms = 0;
    if (auto ts = consume::ParseDlqTimestamp(event->timestamp)) {
      seen_ms = *ts;
    } else if (r.timestamp().ms > 0) {
      seen_ms = r.timestamp().ms;
    } else {
      seen_ms = WallClockMs();
    }
    const SeriesTable::Outcome outcome =
        table->Set(family, event->metric_name, labels, event->value, event->host_id, seen_ms);
    if (outcome == SeriesTable::Outcome::kLimit) {
      ++n_dropped_limit;
      dropped_limit->Inc();
      uint64_t held = 0;
      if (limit_log.Allow(&held)) {
        spdlog::warn(
            "metrics consumer: {}: MetricEvent {} (host {}) dropped: {} series held, the limit "
            "(max_series){}",
            Coordinates(r), event->metric_name, event->host_id, options.max_series,
            Suppressed(held));
      }
    }
    return consume::HandlerResult::Ok();
  }
};

MetricsConsumer::MetricsConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsConsumer::~MetricsConsumer() {
  Stop();
  impl_->metrics->RemoveCollector(impl_->collector);
}

Result<std::unique_ptr<MetricsConsumer>> MetricsConsumer::Create(const Topology& topology,
                                                                 std::string_view group,
                                                                 kafka::ClientConfig config,
                                                                 observe::Registry* metrics,
                                                                 MetricsConsumerOptions options) {
  if (metrics == nullptr) {
    return Status::InvalidArgument("metrics consumer: a metrics registry is required");
  }
  const ConsumerGroupSpec* spec = topology.FindGroup(group);
  if (spec == nullptr) {
    return Status::NotFound(
        fmt::format("metrics consumer: no consumer group {} in {}", group, topology.path));
  }
  auto decoder = consume::RecordDecoder::Create(topology, *spec, options.schema_registry);
  if (!decoder.ok()) return decoder.status();
  consume::RuntimeOptions ro;
  ro.metrics = metrics;
  ro.decode = false;  // decoded by the handler, so that bad records are counted, not dead-lettered
  ro.registry = options.schema_registry;
  ro.commit_interval = options.commit_interval;
  auto rt = consume::GroupRuntime::Create(topology, group, std::move(config), ro);
  if (!rt.ok()) return rt.status();

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->decoder = std::move(*decoder);
  impl->runtime = std::move(*rt);
  impl->metrics = metrics;
  const consume::Clock* clock =
      options.clock != nullptr ? options.clock : &consume::Clock::Steady();
  impl->table = std::make_shared<SeriesTable>(options.max_series, options.series_ttl, clock);
  impl->received = &metrics->GetCounter(
      "metric_events_received_total",
      "Records read from the metrics topics (valid MetricEvents and invalid records)");
  impl->invalid = &metrics->GetCounter("metric_events_invalid_total",
                                       "Records of the metrics topics that are not MetricEvents");
  impl->dropped_limit =
      &metrics->GetCounter("metric_events_dropped_total", "MetricEvents dropped, by reason",
                           {{"reason", "series_limit"}});
  impl->dropped_reserved =
      &metrics->GetCounter("metric_events_dropped_total", "MetricEvents dropped, by reason",
                           {{"reason", "reserved_name"}});
  Impl* raw = impl.get();
  for (const std::string& topic : impl->runtime->spec().topics) {
    Status s =
        impl->runtime->OnTopic(topic, [raw](const consume::Message& m) { return raw->Handle(m); });
    if (!s.ok()) return s;
  }
  std::weak_ptr<SeriesTable> weak = impl->table;
  impl->collector = metrics->AddCollector([weak](observe::Scrape& scrape) {
    if (auto table = weak.lock()) table->Collect(scrape);
  });
  return std::unique_ptr<MetricsConsumer>(new MetricsConsumer(std::move(impl)));
}

Status MetricsConsumer::Start() { return impl_->runtime->Start(); }

Status MetricsConsumer::Stop(std::chrono::milliseconds deadline) {
  return impl_->runtime->Stop(deadline);
}

MetricsConsumerStats MetricsConsumer::Stats() const {
  MetricsConsumerStats s;
  s.received = impl_->n_received.load();
  s.invalid = impl_->n_invalid.load();
  s.dropped_series_limit = impl_->n_dropped_limit.load();
  s.dropped_reserved = impl_->n_dropped_reserved.load();
  s.expired = impl_->table->expired();
  s.series = impl_->table->series();
  return s;
}

}  // namespace weir::ops
