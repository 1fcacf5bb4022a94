// Hand-written on purpose: Debian bookworm packages no C++ Prometheus
// client (prometheus-cpp is not in the archive), and the text format is
// small. Checked by tests/observe/metrics_test.cc with `promtool check
// metrics` from Debian's prometheus package.
#include "weir/observe/metrics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace weir::observe {
namespace {

enum Type : int { kCounter = 0, kGauge = 1, kHistogram = 2 };
const char* TypeName(int t) {
  switch (t) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (quote && c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// {a="x",b="y"} plus an optional extra label (le for buckets).
std::string LabelText(const Labels& labels, std::string_view extra_name = {},
                      std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](std::string_view n, std::string_view v) {
    if (!first) out += ',';
    first = false;
    out += n;
    out += "=\"";
    AppendEscaped(&out, v, true);
    out += '"';
  };
  for (const auto& [n, v] : labels) add(n, v);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out += '}';
  return out;
}

void AppendHeader(std::string* out, const std::string& name, std::string_view help, int type) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  AppendEscaped(out, help, false);
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += TypeName(type);
  *out += '\n';
}

void CheckLabels(const std::string& family, const Labels& labels) {
  for (const auto& [n, v] : labels) {
    if (!IsValidLabelName(n) || n == "le") {
      throw std::invalid_argument(fmt::format("metric {}: invalid label name \"{}\"", family, n));
    }
  }
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
    if (!(bounds_[i] < bounds_[i + 1])) {
      throw std::invalid_argument("histogram bounds must be strictly increasing");
    }
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // Read after the buckets: a concurrent Observe may show in count but not
  // yet in a bucket; keep the exposition consistent (+Inf == count).
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void Scrape::Gauge(std::string_view name, std::string_view help, const Labels& labels,
                   double value) {
  samples_[prefix_ + std::string(name)].push_back(Sample{false, std::string(help), labels, value});
}

void Scrape::Counter(std::string_view name, std::string_view help, const Labels& labels,
                     double value) {
  samples_[prefix_ + std::string(name)].push_back(Sample{true, std::string(help), labels, value});
}

struct Registry::Family {
  int type = kCounter;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  // Series by label values, in the order of label_names.
  std::map<std::vector<std::string>, std::unique_ptr<observe::Counter>> counters;
  std::map<std::vector<std::string>, std::unique_ptr<observe::Gauge>> gauges;
  std::map<std::vector<std::string>, std::unique_ptr<Histogram>> histograms;

  Labels LabelsOf(const std::vector<std::string>& values) const {
    Labels out;
    for (size_t i = 0; i < values.size(); ++i) out.emplace_back(label_names[i], values[i]);
    return out;
  }
};

Registry::Registry(std::string prefix) : prefix_(std::move(prefix)) {
  if (!prefix_.empty() && !IsValidMetricName(prefix_)) {
    throw std::invalid_argument(fmt::format("invalid metric name prefix \"{}\"", prefix_));
  }
}

Registry::~Registry() = default;

const char* Registry::ContentType() { return "text/plain; version=0.0.4; charset=utf-8"; }

Registry::Family& Registry::FamilyFor(std::string_view name, std::string_view help, int type,
                                      const Labels& labels) {
  const std::string full = prefix_ + std::string(name);
  if (!IsValidMetricName(full)) {
    throw std::invalid_argument(fmt::format("invalid metric name \"{}\"", full));
  }
  CheckLabels(full, labels);
  std::vector<std::string> names;
  for (const auto& [n, v] : labels) names.push_back(n);
  auto it = families_.find(full);
  if (it == families_.end()) {
    auto f = std::make_unique<Family>();
    f->type = type;
    f->help = std::string(help);
    f->label_names = names;
    it = families_.emplace(full, std::move(f)).first;
  }
  Family& f = *it->second;
  if (f.type != type || f.label_names != names) {
    throw std::invalid_argument(fmt::format(
        "metric {} was registered as a {} with labels ({}); asked again as a {} with ({})", full,
        TypeName(f.type), fmt::join(f.label_names, ","), TypeName(type), fmt::join(names, ",")));
  }
  return f;
}

namespace {
std::vector<std::string> ValuesOf(const Labels& labels) {
  std::vector<std::string> v;
  for (const auto& [n, value] : labels) v.push_back(value);
  return v;
}
}  // namespace

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, kCounter, labels);
  auto& slot = f.counters[ValuesOf(labels)];
  if (!slot) slot = std::make_unique<observe::Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, kGauge, labels);
  auto& slot = f.gauges[ValuesOf(labels)];
  if (!slot) slot = std::make_unique<observe::Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const Labels& labels, std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, kHistogram, labels);
  if (f.bounds.empty()) f.bounds = std::move(bounds);
  auto& slot = f.histograms[ValuesOf(labels)];
  if (!slot) slot = std::make_unique<Histogram>(f.bounds);
  return *slot;
}

int Registry::AddCollector(std::function<void(Scrape&)> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  const int id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard<std::mutex> collecting(collect_mu_);  // waits for a render in progress
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  Scrape scrape(prefix_);
  std::unique_lock<std::mutex> collecting(collect_mu_);
  std::vector<std::function<void(Scrape&)>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  for (const auto& c : collectors) {
    Scrape one(prefix_);
    try {
      c(one);
    } catch (const std::exception& e) {
      spdlog::error("metrics collector failed: {}", e.what());
      continue;
    } catch (...) {
      spdlog::error("metrics collector failed");
      continue;
    }
    for (auto& [name, samples] : one.samples_) {
      auto& dst = scrape.samples_[name];
      dst.insert(dst.end(), samples.begin(), samples.end());
    }
  }
  collecting.unlock();

  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  auto registered = families_.begin();
  auto collected = scrape.samples_.begin();
  while (registered != families_.end() || collected != scrape.samples_.end()) {
    const bool take_registered =
        collected == scrape.samples_.end() ||
        (registered != families_.end() && registered->first <= collected->first);
    if (take_registered) {
      const std::string& name = registered->first;
      const Family& f = *registered->second;
      AppendHeader(&out, name, f.help, f.type);
      for (const auto& [values, c] : f.counters) {
        out += name + LabelText(f.LabelsOf(values)) + ' ' + FormatValue(c->Value()) + '\n';
      }
      for (const auto& [values, g] : f.gauges) {
        out += name + LabelText(f.LabelsOf(values)) + ' ' + FormatValue(g->Value()) + '\n';
      }
      for (const auto& [values, h] : f.histograms) {
        const Labels labels = f.LabelsOf(values);
        const Histogram::Snapshot s = h->Take();
        for (size_t i = 0; i < s.bounds.size(); ++i) {
          out += name + "_bucket" + LabelText(labels, "le", FormatValue(s.bounds[i])) + ' ' +
                 std::to_string(s.cumulative[i]) + '\n';
        }
        out += name + "_bucket" + LabelText(labels, "le", "+Inf") + ' ' + std::to_string(s.count) +
               '\n';
        out += name + "_sum" + LabelText(labels) + ' ' + FormatValue(s.sum) + '\n';
        out += name + "_count" + LabelText(labels) + ' ' + std::to_string(s.count) + '\n';
      }
      // A collected family of the same name would be a second family: skip it.
      if (collected != scrape.samples_.end() && collected->first == name) {
        spdlog::warn("metrics: collected family {} clashes with a registered one; dropped", name);
        ++collected;
      }
      ++registered;
      continue;
    }
    const std::string& name = collected->first;
    const auto& samples = collected->second;
    if (IsValidMetricName(name)) {
      AppendHeader(&out, name, samples.front().help, samples.front().counter ? kCounter : kGauge);
      for (const Scrape::Sample& s : samples) {
        bool ok = true;
        for (const auto& [n, v] : s.labels) ok = ok && IsValidLabelName(n) && n != "le";
        if (!ok) continue;
        out += name + LabelText(s.labels) + ' ' + FormatValue(s.value) + '\n';
      }
    }
    ++collected;
  }
  return out;
}

}  // namespace weir::observe
