#include "broker/topic_manager.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "broker/file_util.h"

namespace weir::broker {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kMaxPartitions = 10000;
constexpr int64_t kProducerIdBlock = 1000;

enum class ConfigKind { kLong, kEnum };

// The topic configs the broker knows. Anything else is INVALID_CONFIG, as on
// a Kafka broker, so that a misspelt config never silently does nothing.
struct ConfigDef {
  const char* name;
  ConfigKind kind;
  int64_t min;                  // kLong
  const char* allowed;          // kEnum: comma-separated
  const char* broker_synonym;   // the broker setting that supplies the default
  const char* unsupported_why;  // kEnum values the broker refuses, explained
};

constexpr ConfigDef kConfigs[] = {
    {"cleanup.policy", ConfigKind::kEnum, 0, "delete", "log.cleanup.policy",
     "log compaction is not supported by weir's embedded broker; use cleanup.policy=delete"},
    {"compression.type", ConfigKind::kEnum, 0, "producer", "compression.type",
     "the embedded broker stores batches as producers compressed them; only "
     "compression.type=producer is supported"},
    {"max.message.bytes", ConfigKind::kLong, 0, nullptr, "message.max.bytes", nullptr},
    {"message.timestamp.type", ConfigKind::kEnum, 0, "CreateTime,LogAppendTime",
     "log.message.timestamp.type", nullptr},
    {"min.insync.replicas", ConfigKind::kLong, 1, nullptr, "min.insync.replicas", nullptr},
    {"retention.bytes", ConfigKind::kLong, -1, nullptr, "log.retention.bytes", nullptr},
    {"retention.ms", ConfigKind::kLong, -1, nullptr, "log.retention.ms", nullptr},
    {"segment.bytes", ConfigKind::kLong, 14, nullptr, "log.segment.bytes", nullptr},
    {"segment.ms", ConfigKind::kLong, 1, nullptr, "log.roll.ms", nullptr},
    {"index.interval.bytes", ConfigKind::kLong, 0, nullptr, "log.index.interval.bytes", nullptr},
    {"unclean.leader.election.enable", ConfigKind::kEnum, 0, "false,true",
     "unclean.leader.election.enable", nullptr},
};

const ConfigDef* FindConfig(const std::string& name) {
  for (const ConfigDef& d : kConfigs) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::optional<int64_t> ParseLong(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string NewClusterId() {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 22; ++i) id += kAlphabet[rd() % 64];
  return id;
}

}  // namespace

TopicManager::TopicManager(fs::path data_dir, TopicDefaults defaults, const Clock& clock)
    : data_dir_(std::move(data_dir)), defaults_(defaults), clock_(clock) {}

TopicManager::~TopicManager() { Close(); }

AdminResult TopicManager::ValidateTopicName(const std::string& name) {
  if (name.empty()) return {ErrorCode::kInvalidTopicException, "topic name is empty"};
  if (name.size() > 249) {
    return {ErrorCode::kInvalidTopicException,
            fmt::format("topic name is {} characters; the limit is 249", name.size())};
  }
  if (name == "." || name == "..") {
    return {ErrorCode::kInvalidTopicException, fmt::format("topic name \"{}\" is reserved", name)};
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return {ErrorCode::kInvalidTopicException,
              fmt::format("topic name \"{}\" contains '{}'; allowed are ASCII letters, digits, "
                          "'.', '_' and '-'",
                          name, c == '\n' ? std::string("\\n") : std::string(1, c))};
    }
  }
  return {};
}

AdminResult TopicManager::ValidateConfig(const std::string& name, const std::string& value) {
  const ConfigDef* def = FindConfig(name);
  if (def == nullptr) {
    return {ErrorCode::kInvalidConfig, fmt::format("unknown topic config \"{}\"", name)};
  }
  if (def->kind == ConfigKind::kLong) {
    auto v = ParseLong(value);
    if (!v) {
      return {ErrorCode::kInvalidConfig,
              fmt::format("config {}=\"{}\" is not an integer", name, value)};
    }
    if (*v < def->min) {
      return {ErrorCode::kInvalidConfig,
              fmt::format("config {}={} is below its minimum {}", name, *v, def->min)};
    }
    if (name == "min.insync.replicas" && *v > 1) {
      return {ErrorCode::kInvalidConfig,
              fmt::format("min.insync.replicas={} cannot be met: weir's embedded broker is a "
                          "single node, so every partition has exactly 1 replica",
                          *v)};
    }
    if (name == "max.message.bytes" && *v > INT32_MAX) {
      return {ErrorCode::kInvalidConfig, fmt::format("config {}={} is too large", name, *v)};
    }
    return {};
  }
  std::stringstream allowed(def->allowed);
  std::string item;
  while (std::getline(allowed, item, ',')) {
    if (item == value) return {};
  }
  if (def->unsupported_why != nullptr) {
    return {ErrorCode::kInvalidConfig,
            fmt::format("config {}={}: {}", name, value, def->unsupported_why)};
  }
  return {ErrorCode::kInvalidConfig,
          fmt::format("config {}=\"{}\" is not one of {}", name, value, def->allowed)};
}

LogConfig TopicManager::LogConfigFor(const std::map<std::string, std::string>& configs) const {
  LogConfig c;
  c.retention_ms = defaults_.retention_ms;
  c.retention_bytes = defaults_.retention_bytes;
  c.segment_bytes = defaults_.segment_bytes;
  c.segment_ms = defaults_.segment_ms;
  c.max_message_bytes = defaults_.max_message_bytes;
  c.flush = defaults_.flush;
  auto get = [&](const char* name) -> std::optional<int64_t> {
    auto it = configs.find(name);
    if (it == configs.end()) return std::nullopt;
    return ParseLong(it->second);
  };
  if (auto v = get("retention.ms")) c.retention_ms = *v;
  if (auto v = get("retention.bytes")) c.retention_bytes = *v;
  if (auto v = get("segment.bytes")) c.segment_bytes = *v;
  if (auto v = get("segment.ms")) c.segment_ms = *v;
  if (auto v = get("max.message.bytes")) c.max_message_bytes = static_cast<int32_t>(*v);
  if (auto v = get("index.interval.bytes")) c.index_interval_bytes = static_cast<int32_t>(*v);
  auto ts = configs.find("message.timestamp.type");
  c.log_append_time = ts != configs.end() && ts->second == "LogAppendTime";
  return c;
}

fs::path TopicManager::PartitionDir(const std::string& topic, int32_t partition) const {
  return data_dir_ / "topics" / fmt::format("{}-{}", topic, partition);
}

Result<std::unique_ptr<TopicManager>> TopicManager::Open(fs::path data_dir, TopicDefaults defaults,
                                                         const Clock& clock) {
  std::error_code ec;
  fs::create_directories(data_dir / "topics", ec);
  if (ec) {
    return Status::Io(fmt::format("cannot create broker data folder {}: {}",
                                  (data_dir / "topics").string(), ec.message()));
  }
  std::unique_ptr<TopicManager> tm(new TopicManager(data_dir, defaults, clock));
  fs::path meta_path = data_dir / "meta.json";
  if (fs::exists(meta_path)) {
    std::ifstream in(meta_path);
    nlohmann::json meta;
    try {
      in >> meta;
      tm->cluster_id_ = meta.at("cluster_id").get<std::string>();
      tm->next_producer_id_ = meta.at("producer_id_limit").get<int64_t>();
      tm->producer_id_limit_ = tm->next_producer_id_;
      for (const auto& [name, t] : meta.at("topics").items()) {
        auto topic = std::make_shared<Topic>();
        topic->name = name;
        topic->configs = t.at("configs").get<std::map<std::string, std::string>>();
        int32_t n = t.at("partitions").get<int32_t>();
        if (n < 1 || n > kMaxPartitions) {
          return Status::Corruption(
              fmt::format("{}: topic {} has {} partitions", meta_path.string(), name, n));
        }
        tm->topics_[name] = topic;
      }
    } catch (const std::exception& e) {
      return Status::Corruption(
          fmt::format("{}: cannot read broker metadata: {}", meta_path.string(), e.what()));
    }
    for (auto& [name, topic] : tm->topics_) {
      int32_t n = meta["topics"][name]["partitions"].get<int32_t>();
      LogConfig lc = tm->LogConfigFor(topic->configs);
      for (int32_t p = 0; p < n; ++p) {
        auto log = PartitionLog::Open(tm->PartitionDir(name, p), lc, clock);
        if (!log.ok()) return log.status().WithContext(fmt::format("opening {}-{}", name, p));
        topic->partitions.push_back(std::shared_ptr<PartitionLog>(std::move(log).value()));
      }
    }
  } else {
    tm->cluster_id_ = NewClusterId();
    std::unique_lock lock(tm->mu_);
    WEIR_RETURN_IF_ERROR(tm->SaveMetaLocked());
  }
  // Folders left by a delete that a crash interrupted.
  for (const auto& entry : fs::directory_iterator(data_dir / "topics", ec)) {
    std::string dir = entry.path().filename().string();
    if (dir.ends_with(".delete")) {
      fs::remove_all(entry.path(), ec);
      spdlog::info("broker: removed {} left by an interrupted topic delete", entry.path().string());
    }
  }
  spdlog::info("broker: data in {}: {} topic(s), cluster id {}", data_dir.string(),
               tm->topics_.size(), tm->cluster_id_);
  return tm;
}

Status TopicManager::SaveMetaLocked() {
  nlohmann::json meta;
  meta["format"] = 1;
  meta["cluster_id"] = cluster_id_;
  meta["producer_id_limit"] = producer_id_limit_;
  meta["topics"] = nlohmann::json::object();
  for (const auto& [name, t] : topics_) {
    meta["topics"][name] = {{"partitions", t->partitions.size()}, {"configs", t->configs}};
  }
  return WriteFileAtomically(data_dir_ / "meta.json", meta.dump(2) + "\n");
}

std::shared_ptr<const Topic> TopicManager::Find(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return nullptr;
  return it->second;
}

std::vector<std::shared_ptr<const Topic>> TopicManager::List() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const Topic>> out;
  for (const auto& [name, t] : topics_) out.push_back(t);
  return out;
}

std::shared_ptr<PartitionLog> TopicManager::Partition(const std::string& topic,
                                                      int32_t partition) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition < 0 ||
      static_cast<size_t>(partition) >= it->second->partitions.size()) {
    return nullptr;
  }
  return it->second->partitions[static_cast<size_t>(partition)];
}

AdminResult TopicManager::CreateTopic(const std::string& name, int32_t partitions,
                                      int16_t replication_factor,
                                      const std::map<std::string, std::string>& configs,
                                      bool validate_only) {
  if (AdminResult r = ValidateTopicName(name); !r.ok()) return r;
  if (partitions == -1) partitions = defaults_.num_partitions;
  if (partitions < 1 || partitions > kMaxPartitions) {
    return {ErrorCode::kInvalidPartitions, fmt::format("topic {}: {} partitions; must be 1..{}",
                                                       name, partitions, kMaxPartitions)};
  }
  if (replication_factor != -1 && replication_factor != 1) {
    return {ErrorCode::kInvalidReplicationFactor,
            fmt::format("topic {}: replication factor {} is impossible on weir's embedded "
                        "broker, a single node; use 1 (or -1 for the default)",
                        name, replication_factor)};
  }
  for (const auto& [k, v] : configs) {
    if (AdminResult r = ValidateConfig(k, v); !r.ok()) {
      r.message = fmt::format("topic {}: {}", name, r.message);
      return r;
    }
  }
  std::unique_lock lock(mu_);
  if (topics_.count(name) != 0) {
    return {ErrorCode::kTopicAlreadyExists, fmt::format("topic {} already exists", name)};
  }
  if (validate_only) return {};
  auto topic = std::make_shared<Topic>();
  topic->name = name;
  topic->configs = configs;
  LogConfig lc = LogConfigFor(configs);
  for (int32_t p = 0; p < partitions; ++p) {
    std::error_code ec;
    fs::remove_all(PartitionDir(name, p), ec);  // a stale folder from an earlier topic
    auto log = PartitionLog::Open(PartitionDir(name, p), lc, clock_);
    if (!log.ok()) {
      return {ErrorCode::kUnknownServerError,
              fmt::format("topic {}: {}", name, log.status().ToString())};
    }
    topic->partitions.push_back(std::shared_ptr<PartitionLog>(std::move(log).value()));
  }
  topics_[name] = topic;
  Status s = SaveMetaLocked();
  if (!s.ok()) {
    topics_.erase(name);
    return {ErrorCode::kUnknownServerError, s.ToString()};
  }
  spdlog::info("broker: created topic {} ({} partitions)", name, partitions);
  return {};
}

AdminResult TopicManager::DeleteTopic(const std::string& name) {
  std::shared_ptr<Topic> topic;
  std::vector<fs::path> doomed;
  {
    std::unique_lock lock(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
      return {ErrorCode::kUnknownTopicOrPartition, fmt::format("topic {} does not exist", name)};
    }
    topic = it->second;
    topics_.erase(it);
    Status s = SaveMetaLocked();
    if (!s.ok()) {
      topics_[name] = topic;
      return {ErrorCode::kUnknownServerError, s.ToString()};
    }
    // The metadata no longer names the topic. Its folders are renamed away
    // under the lock, so that a topic of the same name created right after
    // starts in empty folders that nothing else will remove. A crash between
    // the metadata and the renames leaves folders that Open() ignores and a
    // later create of the name replaces.
    for (size_t p = 0; p < topic->partitions.size(); ++p) {
      topic->partitions[p]->Close();
      fs::path dir = PartitionDir(name, static_cast<int32_t>(p));
      fs::path away = dir;
      away += fmt::format(".{}.delete", delete_counter_++);
      std::error_code ec;
      fs::rename(dir, away, ec);
      doomed.push_back(ec ? dir : away);
    }
  }
  for (const fs::path& dir : doomed) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) spdlog::warn("broker: cannot remove {}: {}", dir.string(), ec.message());
  }
  spdlog::info("broker: deleted topic {}", name);
  return {};
}

AdminResult TopicManager::CreatePartitions(const std::string& name, int32_t count,
                                           bool validate_only) {
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return {ErrorCode::kUnknownTopicOrPartition, fmt::format("topic {} does not exist", name)};
  }
  Topic& t = *it->second;
  auto current = static_cast<int32_t>(t.partitions.size());
  if (count <= current) {
    return {ErrorCode::kInvalidPartitions,
            fmt::format("topic {} has {} partitions; it can only grow (asked for {})", name,
                        current, count)};
  }
  if (count > kMaxPartitions) {
    return {
        ErrorCode::kInvalidPartitions,
        fmt::format("topic {}: {} partitions exceeds the limit {}", name, count, kMaxPartitions)};
  }
  if (validate_only) return {};
  // Copy-on-write: readers holding the old Topic keep a consistent view.
  auto grown = std::make_shared<Topic>(t);
  LogConfig lc = LogConfigFor(t.configs);
  for (int32_t p = current; p < count; ++p) {
    std::error_code ec;
    fs::remove_all(PartitionDir(name, p), ec);
    auto log = PartitionLog::Open(PartitionDir(name, p), lc, clock_);
    if (!log.ok()) {
      return {ErrorCode::kUnknownServerError,
              fmt::format("topic {}: {}", name, log.status().ToString())};
    }
    grown->partitions.push_back(std::shared_ptr<PartitionLog>(std::move(log).value()));
  }
  std::shared_ptr<Topic> old = it->second;
  it->second = grown;
  Status s = SaveMetaLocked();
  if (!s.ok()) {
    it->second = old;  // the new partitions were never acknowledged
    for (size_t p = old->partitions.size(); p < grown->partitions.size(); ++p) {
      grown->partitions[p]->Close();
    }
    return {ErrorCode::kUnknownServerError, s.ToString()};
  }
  spdlog::info("broker: topic {} grew from {} to {} partitions", name, current, count);
  return {};
}

AdminResult TopicManager::AlterConfigs(const std::string& name,
                                       const std::map<std::string, std::string>& configs,
                                       bool validate_only) {
  for (const auto& [k, v] : configs) {
    if (AdminResult r = ValidateConfig(k, v); !r.ok()) {
      r.message = fmt::format("topic {}: {}", name, r.message);
      return r;
    }
  }
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return {ErrorCode::kUnknownTopicOrPartition, fmt::format("topic {} does not exist", name)};
  }
  if (validate_only) return {};
  auto altered = std::make_shared<Topic>(*it->second);
  altered->configs = configs;
  std::shared_ptr<Topic> old = it->second;
  it->second = altered;
  Status s = SaveMetaLocked();
  if (!s.ok()) {
    it->second = old;
    return {ErrorCode::kUnknownServerError, s.ToString()};
  }
  LogConfig lc = LogConfigFor(configs);
  for (auto& log : altered->partitions) log->SetConfig(lc);
  spdlog::info("broker: topic {} configs set ({} dynamic)", name, configs.size());
  return {};
}

std::optional<std::vector<ConfigValue>> TopicManager::DescribeConfigs(
    const std::string& name) const {
  auto topic = Find(name);
  if (!topic) return std::nullopt;
  LogConfig defaults = LogConfigFor({});
  std::map<std::string, std::string> default_values = {
      {"cleanup.policy", "delete"},
      {"compression.type", "producer"},
      {"max.message.bytes", std::to_string(defaults.max_message_bytes)},
      {"message.timestamp.type", "CreateTime"},
      {"min.insync.replicas", "1"},
      {"retention.bytes", std::to_string(defaults.retention_bytes)},
      {"retention.ms", std::to_string(defaults.retention_ms)},
      {"segment.bytes", std::to_string(defaults.segment_bytes)},
      {"segment.ms", std::to_string(defaults.segment_ms)},
      {"index.interval.bytes", std::to_string(defaults.index_interval_bytes)},
      {"unclean.leader.election.enable", "false"},
  };
  std::vector<ConfigValue> out;
  for (const ConfigDef& d : kConfigs) {
    ConfigValue v;
    v.name = d.name;
    auto it = topic->configs.find(d.name);
    if (it != topic->configs.end()) {
      v.value = it->second;
      v.is_default = false;
    } else {
      v.value = default_values[d.name];
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<ConfigValue> TopicManager::BrokerConfigs() const {
  std::vector<ConfigValue> out;
  auto add = [&](const char* n, std::string v) { out.push_back({n, std::move(v), true, true}); };
  add("log.retention.ms", std::to_string(defaults_.retention_ms));
  add("log.retention.bytes", std::to_string(defaults_.retention_bytes));
  add("log.segment.bytes", std::to_string(defaults_.segment_bytes));
  add("log.roll.ms", std::to_string(defaults_.segment_ms));
  add("message.max.bytes", std::to_string(defaults_.max_message_bytes));
  add("num.partitions", std::to_string(defaults_.num_partitions));
  add("default.replication.factor", "1");
  add("auto.create.topics.enable", "false");
  add("log.flush.policy", defaults_.flush == FlushPolicy::kAlways ? "fsync" : "write");
  return out;
}

Result<int64_t> TopicManager::NextProducerId() {
  std::unique_lock lock(mu_);
  if (next_producer_id_ >= producer_id_limit_) {
    // Persist the new block before handing out any id from it.
    int64_t old_limit = producer_id_limit_;
    producer_id_limit_ = next_producer_id_ + kProducerIdBlock;
    Status s = SaveMetaLocked();
    if (!s.ok()) {
      producer_id_limit_ = old_limit;
      return s;
    }
  }
  return next_producer_id_++;
}

int TopicManager::ApplyRetention() {
  int deleted = 0;
  for (const auto& topic : List()) {
    for (const auto& log : topic->partitions) deleted += log->ApplyRetention();
  }
  return deleted;
}

void TopicManager::NotifyAppend() {
  append_sequence_.fetch_add(1);
  std::lock_guard lock(wait_mu_);
  append_cv_.notify_all();
}

void TopicManager::WaitForAppend(uint64_t seen, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(wait_mu_);
  append_cv_.wait_until(lock, deadline, [&] { return woken_ || append_sequence_.load() != seen; });
}

void TopicManager::Wake() {
  std::lock_guard lock(wait_mu_);
  woken_ = true;
  append_cv_.notify_all();
}

void TopicManager::Close() {
  Wake();
  std::unique_lock lock(mu_);
  for (auto& [name, t] : topics_) {
    for (auto& log : t->partitions) log->Close();
  }
}

}  // namespace weir::broker
