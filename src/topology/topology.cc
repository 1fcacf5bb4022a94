// LoadTopology / ParseTopology: weir.yaml → Topology. The format is
// documented in docs/topology.md; every rule checked here is listed there.
#include "weir/topology.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/host_port.h"
#include "topology/env_substitution.h"
#include "topology/yaml_reader.h"

namespace weir {

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

std::map<std::string, std::string> TopicSpec::DesiredConfigs() const {
  std::map<std::string, std::string> out = configs;
  if (retention_ms) out["retention.ms"] = std::to_string(*retention_ms);
  if (retention_bytes) out["retention.bytes"] = std::to_string(*retention_bytes);
  if (cleanup_policy) out["cleanup.policy"] = std::string(CleanupPolicyName(*cleanup_policy));
  return out;
}

const TopicSpec* Topology::FindTopic(std::string_view name) const {
  for (const TopicSpec& t : topics) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const EventTypeSpec* Topology::FindEventType(std::string_view name) const {
  for (const EventTypeSpec& e : event_types) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const ConsumerGroupSpec* Topology::FindGroup(std::string_view name) const {
  for (const ConsumerGroupSpec& g : consumer_groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

namespace topology {
namespace {

constexpr int32_t kMaxPartitions = 10000;
constexpr std::chrono::milliseconds kDefaultMaxBackoff{60000};

// Kafka's topic name rules (kafka.common.internals.Topic.validate).
std::string TopicNameProblem(std::string_view name) {
  if (name.empty()) return "a topic name must not be empty";
  if (name == "." || name == "..") return "a topic name cannot be \".\" or \"..\"";
  if (name.size() > 249) {
    return fmt::format("a topic name is at most 249 characters long (this one has {})",
                       name.size());
  }
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return fmt::format(
          "invalid topic name \"{}\": only letters, digits, '.', '_' and '-' are allowed", name);
    }
  }
  return {};
}

// "camera_id", "node.host": dot-separated, no empty segment.
bool IsValidFieldPath(std::string_view path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  if (path.find("..") != std::string_view::npos) return false;
  return path.find_first_of(" \t\n") == std::string_view::npos;
}

std::optional<CleanupPolicy> ParseCleanupPolicy(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  if (text == "delete") return CleanupPolicy::kDelete;
  if (text == "compact") return CleanupPolicy::kCompact;
  if (text == "compact,delete" || text == "delete,compact") return CleanupPolicy::kCompactDelete;
  return std::nullopt;
}

// A reference from one section to a topic, checked once all topics are read.
struct TopicRef {
  std::string topic;
  SourceLocation where;
  std::string path;
  std::string what;  // "event type PlateDetected", for the message
};

class Loader {
 public:
  Loader(const std::string& path, EnvLookup env) : r_(path, env) {}

  Result<Topology> Load(const std::string& text, const std::string& path) {
    Topology topo;
    topo.path = path;
    std::string folder = std::filesystem::path(path).parent_path().string();
    topo.folder = folder.empty() ? "." : folder;
    topo.cluster.embedded_data_dir = ".weir/data";

    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      r_.Error(r_.WhereLine(e.mark.line + 1, e.mark.column + 1), "",
               fmt::format("YAML syntax error: {}", e.msg));
      return Status::InvalidArgument(r_.ErrorText());
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(fmt::format("{}: YAML error: {}", path, e.what()));
    }
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
      r_.Error(root, "",
               fmt::format("expected a map with sections cluster, topics, event_types, "
                           "consumer_groups; got {}",
                           KindName(root)));
      return Status::InvalidArgument(r_.ErrorText());
    }
    topo.cluster.where = r_.Where(root);
    for (const MapEntry& e : r_.Fields(root, "",
                                       {"cluster", "topics", "event_types", "consumer_groups",
                                        "registry", "publisher", "serve", "metrics"})) {
      if (e.key == "cluster") {
        ReadCluster(e, &topo.cluster);
      } else if (e.key == "registry") {
        ReadRegistry(e, &topo.registry);
      } else if (e.key == "publisher") {
        ReadPublisher(e, &topo.publisher);
      } else if (e.key == "serve") {
        ReadServe(e, &topo.serve);
      } else if (e.key == "metrics") {
        ReadMetrics(e, &topo.metrics);
      } else if (e.key == "topics") {
        for (const MapEntry& t : r_.Entries(e.value, e.path)) topo.topics.push_back(ReadTopic(t));
      } else if (e.key == "event_types") {
        for (const MapEntry& t : r_.Entries(e.value, e.path)) {
          topo.event_types.push_back(ReadEventType(t));
        }
      } else if (e.key == "consumer_groups") {
        for (const MapEntry& g : r_.Entries(e.value, e.path)) {
          topo.consumer_groups.push_back(ReadGroup(g));
        }
      }
    }
    CheckTopicRefs(topo);
    CheckDualSubscribe(topo);
    if (!r_.ok()) return Status::InvalidArgument(r_.ErrorText());
    return topo;
  }

 private:
  // --- cluster -------------------------------------------------------------

  void ReadCluster(const MapEntry& section, ClusterSpec* c) {
    c->where = r_.Where(section.key_node);
    // security: is merged after properties so that a clash can be reported.
    std::optional<MapEntry> security;
    for (const MapEntry& e :
         r_.Fields(section.value, section.path,
                   {"bootstrap", "client_id", "embedded", "properties", "security"})) {
      if (e.key == "bootstrap") {
        auto s = r_.String(e);
        if (!s) continue;
        if (*s == "embedded") {
          c->embedded = true;
          c->bootstrap_servers.clear();
        } else if (s->empty()) {
          r_.Error(r_.Where(e.value), e.path,
                   "must not be empty (write \"embedded\" or \"host:port[,host:port...]\")");
        } else if (s->front() == ',' || s->back() == ',' || s->find(",,") != std::string::npos) {
          r_.Error(r_.Where(e.value), e.path,
                   fmt::format("empty server in \"{}\" (expected host:port[,host:port...])", *s));
        } else {
          c->embedded = false;
          c->bootstrap_servers = *s;
        }
      } else if (e.key == "client_id") {
        auto s = r_.String(e);
        if (s && s->empty()) {
          r_.Error(e.value, e.path, "must not be empty");
        } else if (s) {
          c->client_id = *s;
        }
      } else if (e.key == "embedded") {
        ReadEmbedded(e, c);
      } else if (e.key == "properties") {
        ReadProperties(e, &c->properties);
      } else if (e.key == "security") {
        security = e;
      }
    }
    if (security) ReadSecurity(*security, &c->properties);
  }

  void ReadEmbedded(const MapEntry& section, ClusterSpec* c) {
    for (const MapEntry& e : r_.Fields(section.value, section.path, {"data_dir", "listen"})) {
      auto s = r_.String(e);
      if (!s) continue;
      if (e.key == "data_dir") {
        if (s->empty()) {
          r_.Error(e.value, e.path, "must not be empty");
          continue;
        }
        c->embedded_data_dir = *s;
      } else {
        if (CheckListen(e, *s, "127.0.0.1:9092")) c->embedded_listen = *s;
      }
    }
  }

  // True when |s| is host:port with a port in 0..65535; otherwise an error.
  bool CheckListen(const MapEntry& e, const std::string& s, std::string_view example) {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(s, &host, &port) || s.rfind(':') == 0) {
      r_.Error(e.value, e.path,
               fmt::format("invalid listen address \"{}\" (expected host:port, e.g. "
                           "{}; port 0 picks a free port)",
                           s, example));
      return false;
    }
    return true;
  }

  // --- registry, publisher, serve ------------------------------------------

  void ReadRegistry(const MapEntry& section, RegistrySpec* reg) {
    reg->where = r_.Where(section.key_node);
    for (const MapEntry& e :
         r_.Fields(section.value, section.path,
                   {"url", "folder", "compatibility", "username", "password"})) {
      auto s = r_.String(e, /*secret=*/e.key == "password");
      if (!s) continue;
      if (e.key == "url") {
        if (s->rfind("http://", 0) != 0 && s->rfind("https://", 0) != 0) {
          r_.Error(e.value, e.path,
                   fmt::format("invalid registry url \"{}\" (expected http://host:port or "
                               "https://host:port)",
                               *s));
          continue;
        }
        reg->url = *s;
      } else if (e.key == "folder") {
        if (s->empty()) {
          r_.Error(e.value, e.path, "must not be empty");
          continue;
        }
        reg->folder = *s;
      } else if (e.key == "compatibility") {
        static constexpr std::string_view kLevels[] = {
            "NONE", "BACKWARD",       "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
            "FULL", "FULL_TRANSITIVE"};
        std::string upper = *s;
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (std::find(std::begin(kLevels), std::end(kLevels), upper) == std::end(kLevels)) {
          r_.Error(e.value, e.path,
                   fmt::format("unknown compatibility level \"{}\" (expected NONE, BACKWARD, "
                               "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or "
                               "FULL_TRANSITIVE)",
                               *s));
          continue;
        }
        reg->compatibility = upper;
      } else if (e.key == "username") {
        reg->username = *s;
      } else {
        reg->password = PropertyValue{*s, true, r_.Where(e.value)};
      }
    }
  }

  void ReadPublisher(const MapEntry& section, PublisherSpec* pub) {
    pub->where = r_.Where(section.key_node);
    for (const MapEntry& e :
         r_.Fields(section.value, section.path, {"delivery_timeout", "spool", "dedup_ttl"})) {
      if (e.key == "delivery_timeout") {
        auto v = r_.DurationMs(e);
        if (!v) continue;
        if (*v <= 0) {
          r_.Error(e.value, e.path, "must be a positive duration");
          continue;
        }
        pub->delivery_timeout = std::chrono::milliseconds(*v);
      } else if (e.key == "dedup_ttl") {
        auto v = r_.DurationMs(e);
        if (!v) continue;
        if (*v < 0) {
          r_.Error(e.value, e.path, "must be a duration (0 turns de-duplication off)");
          continue;
        }
        pub->dedup_ttl = std::chrono::milliseconds(*v);
      } else if (e.value.IsScalar()) {  // spool: off | false
        auto b = r_.Bool(e);
        if (b) pub->spool = *b;
      } else {
        for (const MapEntry& f : r_.Fields(e.value, e.path, {"enabled", "dir", "max_bytes"})) {
          if (f.key == "enabled") {
            if (auto b = r_.Bool(f)) pub->spool = *b;
          } else if (f.key == "dir") {
            auto s = r_.String(f);
            if (s && s->empty()) {
              r_.Error(f.value, f.path, "must not be empty");
            } else if (s) {
              pub->spool_dir = *s;
            }
          } else if (auto v = r_.Bytes(f)) {
            if (*v <= 0) {
              r_.Error(f.value, f.path, "must be a positive size");
              continue;
            }
            pub->spool_max_bytes = *v;
          }
        }
      }
    }
  }

  void ReadServe(const MapEntry& section, ServeSpec* serve) {
    serve->where = r_.Where(section.key_node);
    for (const MapEntry& e :
         r_.Fields(section.value, section.path, {"listen", "max_body", "token"})) {
      if (e.key == "listen") {
        auto s = r_.String(e);
        if (s && CheckListen(e, *s, "127.0.0.1:8080")) serve->listen = *s;
      } else if (e.key == "max_body") {
        auto v = r_.Bytes(e);
        if (!v) continue;
        if (*v <= 0) {
          r_.Error(e.value, e.path, "must be a positive size");
          continue;
        }
        serve->max_body_bytes = *v;
      } else {
        auto s = r_.String(e, /*secret=*/true);
        if (s) serve->token = PropertyValue{*s, true, r_.Where(e.value)};
      }
    }
  }

  void ReadMetrics(const MapEntry& section, MetricsSpec* metrics) {
    metrics->where = r_.Where(section.key_node);
    for (const MapEntry& e : r_.Fields(section.value, section.path, {"prefix", "listen"})) {
      auto s = r_.String(e);
      if (!s) continue;
      if (e.key == "listen") {
        if (CheckListen(e, *s, "127.0.0.1:9464")) metrics->listen = *s;
        continue;
      }
      bool ok = true;
      for (size_t i = 0; i < s->size(); ++i) {
        const char c = (*s)[i];
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9'));
      }
      if (!ok) {
        r_.Error(e.value, e.path,
                 fmt::format("invalid metric name prefix \"{}\" (letters, digits and _, not "
                             "starting with a digit, e.g. alpr_)",
                             *s));
        continue;
      }
      metrics->prefix = *s;
    }
  }

  void ReadProperties(const MapEntry& section, std::map<std::string, PropertyValue>* props) {
    for (const MapEntry& e : r_.Entries(section.value, section.path)) {
      bool secret = IsSecretProperty(e.key);
      auto s = r_.String(e, secret);
      if (!s) continue;
      (*props)[e.key] = PropertyValue{*s, secret, r_.Where(e.value, r_.Where(e.key_node))};
    }
  }

  // Sets |name| from the security block, refusing a clash with properties:.
  // |value| replaces the written value when given (already read and checked).
  void SetSecurityProperty(const MapEntry& e, const std::string& name,
                           std::map<std::string, PropertyValue>* props,
                           std::optional<std::string> value = std::nullopt) {
    bool secret = IsSecretProperty(name);
    auto s = value ? value : r_.String(e, secret);
    if (!s) return;
    if (props->count(name) != 0) {
      r_.Error(e.value, e.path,
               fmt::format("{} is also set in cluster.properties (line {}); set it in one place",
                           name, (*props)[name].where.line));
      return;
    }
    (*props)[name] = PropertyValue{*s, secret, r_.Where(e.value, r_.Where(e.key_node))};
  }

  void ReadSecurity(const MapEntry& section, std::map<std::string, PropertyValue>* props) {
    std::optional<std::string> protocol;
    const MapEntry* sasl_entry = nullptr;
    std::vector<MapEntry> fields =
        r_.Fields(section.value, section.path, {"protocol", "sasl", "ssl"});
    for (const MapEntry& e : fields) {
      if (e.key == "protocol") {
        auto s = r_.String(e);
        if (!s) continue;
        std::string upper = *s;
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (upper != "PLAINTEXT" && upper != "SSL" && upper != "SASL_PLAINTEXT" &&
            upper != "SASL_SSL") {
          r_.Error(e.value, e.path,
                   fmt::format("unknown security protocol \"{}\" (expected PLAINTEXT, SSL, "
                               "SASL_PLAINTEXT or SASL_SSL)",
                               *s));
          continue;
        }
        protocol = upper;
        SetSecurityProperty(e, "security.protocol", props, upper);
      } else if (e.key == "sasl") {
        sasl_entry = &e;
        static const std::vector<std::pair<std::string_view, std::string>> kSasl = {
            {"mechanism", "sasl.mechanism"},
            {"username", "sasl.username"},
            {"password", "sasl.password"},
            {"oauthbearer_config", "sasl.oauthbearer.config"},
            {"kerberos_service_name", "sasl.kerberos.service.name"},
        };
        for (const MapEntry& s : r_.Fields(e.value, e.path,
                                           {"mechanism", "username", "password",
                                            "oauthbearer_config", "kerberos_service_name"})) {
          if (s.key == "mechanism") {
            auto m = r_.String(s);
            if (!m) continue;
            static const std::set<std::string> kMechanisms = {"GSSAPI", "PLAIN", "SCRAM-SHA-256",
                                                              "SCRAM-SHA-512", "OAUTHBEARER"};
            if (kMechanisms.count(*m) == 0) {
              r_.Error(s.value, s.path,
                       fmt::format("unknown SASL mechanism \"{}\" (expected PLAIN, SCRAM-SHA-256, "
                                   "SCRAM-SHA-512, GSSAPI or OAUTHBEARER)",
                                   *m));
              continue;
            }
          }
          for (const auto& [key, name] : kSasl) {
            if (s.key == key) SetSecurityProperty(s, name, props);
          }
        }
      } else if (e.key == "ssl") {
        static const std::vector<std::pair<std::string_view, std::string>> kSsl = {
            {"ca_location", "ssl.ca.location"},
            {"certificate_location", "ssl.certificate.location"},
            {"key_location", "ssl.key.location"},
            {"key_password", "ssl.key.password"},
            {"endpoint_identification_algorithm", "ssl.endpoint.identification.algorithm"},
        };
        for (const MapEntry& s : r_.Fields(e.value, e.path,
                                           {"ca_location", "certificate_location", "key_location",
                                            "key_password", "endpoint_identification_algorithm"})) {
          for (const auto& [key, name] : kSsl) {
            if (s.key == key) SetSecurityProperty(s, name, props);
          }
        }
      }
    }
    if (sasl_entry != nullptr && protocol && protocol->rfind("SASL_", 0) != 0) {
      r_.Error(
          sasl_entry->key_node, sasl_entry->path,
          fmt::format("SASL settings need protocol SASL_PLAINTEXT or SASL_SSL, not {}", *protocol));
    }
  }

  // --- topics --------------------------------------------------------------

  TopicSpec ReadTopic(const MapEntry& entry) {
    TopicSpec t;
    t.name = entry.key;
    t.where = r_.Where(entry.key_node);
    if (std::string problem = TopicNameProblem(t.name); !problem.empty()) {
      r_.Error(t.where, entry.path, problem);
    }
    if (!entry.value.IsNull() && !entry.value.IsMap()) {
      r_.Error(entry.value, entry.path,
               fmt::format("expected a map of topic settings (partitions, retention, ...), got {}",
                           KindName(entry.value)));
      return t;
    }
    const MapEntry* configs_entry = nullptr;
    std::vector<MapEntry> fields =
        r_.Fields(entry.value, entry.path,
                  {"partitions", "replication", "retention", "retention_bytes", "cleanup_policy",
                   "key", "schema", "configs"});
    for (const MapEntry& e : fields) {
      if (e.key == "partitions") {
        if (auto v = r_.Int(e, 1, kMaxPartitions)) t.partitions = static_cast<int32_t>(*v);
      } else if (e.key == "replication") {
        if (auto v = r_.Int(e, -1, 32767)) {
          if (*v == 0) {
            r_.Error(e.value, e.path,
                     "replication must be at least 1 (or -1 for the broker's default)");
          } else {
            t.replication = static_cast<int16_t>(*v);
          }
        }
      } else if (e.key == "retention") {
        if (auto v = r_.DurationMs(e)) t.retention_ms = *v;
      } else if (e.key == "retention_bytes") {
        if (auto v = r_.Bytes(e)) t.retention_bytes = *v;
      } else if (e.key == "cleanup_policy") {
        auto s = r_.String(e);
        if (!s) continue;
        t.cleanup_policy = ParseCleanupPolicy(*s);
        if (!t.cleanup_policy) {
          r_.Error(e.value, e.path,
                   fmt::format("invalid cleanup policy \"{}\" (expected delete, compact or "
                               "\"compact,delete\")",
                               *s));
        }
      } else if (e.key == "key") {
        if (auto s = ReadFieldPath(e)) t.key_field = *s;
      } else if (e.key == "schema") {
        if (auto s = r_.String(e)) t.schema = *s;
      } else if (e.key == "configs") {
        configs_entry = &e;
        for (const MapEntry& c : r_.Entries(e.value, e.path)) {
          if (auto s = r_.String(c)) t.configs[c.key] = *s;
        }
      }
    }
    // A managed config set twice would make the plan depend on map order.
    if (configs_entry != nullptr) {
      const std::pair<const char*, bool> managed[] = {
          {"retention.ms", t.retention_ms.has_value()},
          {"retention.bytes", t.retention_bytes.has_value()},
          {"cleanup.policy", t.cleanup_policy.has_value()},
      };
      for (const auto& [name, declared] : managed) {
        if (declared && t.configs.count(name) != 0) {
          r_.Error(configs_entry->key_node, JoinPath(configs_entry->path, name),
                   fmt::format("{} is also set by the topic's own key; set it in one place", name));
        }
      }
    }
    return t;
  }

  std::optional<std::string> ReadFieldPath(const MapEntry& e) {
    auto s = r_.String(e);
    if (!s) return std::nullopt;
    if (!IsValidFieldPath(*s)) {
      r_.Error(e.value, e.path,
               fmt::format("invalid field path \"{}\" (expected a field name such as camera_id, "
                           "or a dotted path such as node.host)",
                           *s));
      return std::nullopt;
    }
    return s;
  }

  // Records a topic reference to check once every topic is known.
  void RefTopic(const std::string& topic, const YAML::Node& node, const std::string& path,
                const std::string& what) {
    refs_.push_back(TopicRef{topic, r_.Where(node), path, what});
  }

  // --- event types ---------------------------------------------------------

  EventTypeSpec ReadEventType(const MapEntry& entry) {
    EventTypeSpec ev;
    ev.name = entry.key;
    ev.where = r_.Where(entry.key_node);
    if (!entry.value.IsMap()) {
      r_.Error(entry.value.IsNull() ? entry.key_node : entry.value, entry.path,
               fmt::format("expected a map with at least `topic:`, got {}", KindName(entry.value)));
      return ev;
    }
    std::optional<EventFormat> format;
    const MapEntry* topic_entry = nullptr;
    const MapEntry* topics_entry = nullptr;
    const MapEntry* schema_entry = nullptr;
    std::vector<MapEntry> fields =
        r_.Fields(entry.value, entry.path,
                  {"schema", "format", "topic", "topics", "mirror_topic", "key", "id"});
    const std::string what = fmt::format("event type {}", ev.name);
    for (const MapEntry& e : fields) {
      if (e.key == "schema") {
        schema_entry = &e;
        if (auto s = r_.String(e)) ev.schema = *s;
      } else if (e.key == "format") {
        auto s = r_.String(e);
        if (!s) continue;
        if (*s == "json") {
          format = EventFormat::kJson;
        } else if (*s == "avro") {
          format = EventFormat::kAvro;
        } else {
          r_.Error(e.value, e.path,
                   fmt::format("unknown format \"{}\" (expected json or avro)", *s));
        }
      } else if (e.key == "topic") {
        topic_entry = &e;
        if (auto s = r_.String(e)) {
          ev.topics.push_back(*s);
          RefTopic(*s, e.value, e.path, what);
        }
      } else if (e.key == "topics") {
        topics_entry = &e;
        std::vector<YAML::Node> nodes;
        if (auto list = r_.StringList(e, /*allow_empty=*/false, &nodes)) {
          for (size_t i = 0; i < list->size(); ++i) {
            const std::string& name = (*list)[i];
            std::string item_path = fmt::format("{}[{}]", e.path, i);
            if (std::find(ev.topics.begin(), ev.topics.end(), name) != ev.topics.end()) {
              r_.Error(nodes[i], item_path, fmt::format("topic {} is listed twice", name));
              continue;
            }
            ev.topics.push_back(name);
            RefTopic(name, nodes[i], item_path, what);
          }
        }
      } else if (e.key == "mirror_topic") {
        if (auto s = r_.String(e)) {
          ev.mirror_topic = *s;
          RefTopic(*s, e.value, e.path, what + " (mirror_topic)");
        }
      } else if (e.key == "key") {
        if (auto s = ReadFieldPath(e)) ev.key_field = *s;
      } else if (e.key == "id") {
        if (auto s = ReadFieldPath(e)) ev.id_field = *s;
      }
    }
    if (topic_entry != nullptr && topics_entry != nullptr) {
      r_.Error(topics_entry->key_node, topics_entry->path,
               "give either `topic:` or `topics:`, not both");
    } else if (topic_entry == nullptr && topics_entry == nullptr) {
      r_.Error(entry.key_node, entry.path, "missing `topic:` (or `topics: [...]`)");
    }
    if (!ev.mirror_topic.empty() &&
        std::find(ev.topics.begin(), ev.topics.end(), ev.mirror_topic) != ev.topics.end()) {
      r_.Error(entry.key_node, JoinPath(entry.path, "mirror_topic"),
               fmt::format("mirror_topic {} is already one of the event type's topics",
                           ev.mirror_topic));
    }
    // The format: declared, or inferred from the schema file's extension.
    std::string ext = std::filesystem::path(ev.schema).extension().string();
    std::optional<EventFormat> inferred;
    if (ext == ".avsc") inferred = EventFormat::kAvro;
    if (ext == ".json") inferred = EventFormat::kJson;
    if (format && inferred && *format != *inferred) {
      r_.Error(schema_entry->value, schema_entry->path,
               fmt::format("a {} schema file does not match format {}", ext,
                           *format == EventFormat::kAvro ? "avro" : "json"));
    } else if (!format && !inferred && !ev.schema.empty()) {
      r_.Error(schema_entry->value, schema_entry->path,
               fmt::format("cannot tell the format of \"{}\" (name it .avsc or .json, or add "
                           "`format: avro|json`)",
                           ev.schema));
    }
    ev.format = format.value_or(inferred.value_or(EventFormat::kJson));
    return ev;
  }

  // --- consumer groups -----------------------------------------------------

  ConsumerGroupSpec ReadGroup(const MapEntry& entry) {
    ConsumerGroupSpec g;
    g.name = entry.key;
    g.where = r_.Where(entry.key_node);
    if (!entry.value.IsMap()) {
      r_.Error(
          entry.value.IsNull() ? entry.key_node : entry.value, entry.path,
          fmt::format("expected a map with at least `topics:`, got {}", KindName(entry.value)));
      return g;
    }
    const std::string what = fmt::format("consumer group {}", g.name);
    const MapEntry* dlq_entry = nullptr;
    std::optional<MapEntry> late_dlq_entry;
    bool has_topics = false;
    std::vector<MapEntry> fields = r_.Fields(entry.value, entry.path,
                                             {"topics", "ordering", "concurrency", "retry",
                                              "timeout", "dlq", "dedup", "reorder", "properties"});
    for (const MapEntry& e : fields) {
      if (e.key == "topics") {
        has_topics = true;
        std::vector<YAML::Node> nodes;
        if (auto list = r_.StringList(e, /*allow_empty=*/false, &nodes)) {
          for (size_t i = 0; i < list->size(); ++i) {
            const std::string& name = (*list)[i];
            std::string item_path = fmt::format("{}[{}]", e.path, i);
            if (std::find(g.topics.begin(), g.topics.end(), name) != g.topics.end()) {
              r_.Error(nodes[i], item_path, fmt::format("topic {} is listed twice", name));
              continue;
            }
            g.topics.push_back(name);
            RefTopic(name, nodes[i], item_path, what);
          }
        }
      } else if (e.key == "ordering") {
        auto s = r_.String(e);
        if (!s) continue;
        if (*s == "partition") {
          g.ordering = Ordering::kPartition;
        } else if (*s == "key") {
          g.ordering = Ordering::kKey;
        } else if (*s == "unordered") {
          g.ordering = Ordering::kUnordered;
        } else {
          r_.Error(
              e.value, e.path,
              fmt::format("unknown ordering \"{}\" (expected partition, key or unordered)", *s));
        }
      } else if (e.key == "concurrency") {
        if (auto v = r_.Int(e, 1, 10000)) g.concurrency = static_cast<int>(*v);
      } else if (e.key == "retry") {
        ReadRetry(e, &g.retry);
      } else if (e.key == "timeout") {
        auto v = r_.DurationMs(e);
        if (!v) continue;
        if (*v == 0) {
          r_.Error(e.value, e.path, "must be positive (or -1 for no timeout)");
        } else if (*v > 0) {
          g.timeout = std::chrono::milliseconds(*v);
        }
      } else if (e.key == "dlq") {
        auto s = r_.String(e);
        if (!s) continue;
        g.dlq_topic = *s;
        dlq_entry = &e;
        RefTopic(*s, e.value, e.path, what + " (dlq)");
      } else if (e.key == "dedup") {
        g.dedup = ReadDedup(e);
      } else if (e.key == "reorder") {
        g.reorder = ReadReorder(e, &late_dlq_entry);
      } else if (e.key == "properties") {
        ReadProperties(e, &g.properties);
        if (auto it = g.properties.find("group.id"); it != g.properties.end()) {
          r_.Error(it->second.where, JoinPath(e.path, "group.id"),
                   "the group.id is the group's name in weir.yaml; do not set it here");
        }
      }
    }
    if (!has_topics) r_.Error(entry.key_node, entry.path, "missing `topics: [...]`");
    if (dlq_entry != nullptr &&
        std::find(g.topics.begin(), g.topics.end(), g.dlq_topic) != g.topics.end()) {
      r_.Error(dlq_entry->value, dlq_entry->path,
               fmt::format("the DLQ topic {} is also one of the group's own topics (failures "
                           "would loop)",
                           g.dlq_topic));
    }
    if (late_dlq_entry && g.dlq_topic.empty()) {
      r_.Error(late_dlq_entry->value, late_dlq_entry->path,
               "late: dlq needs a `dlq:` topic on the group");
    }
    return g;
  }

  void ReadRetry(const MapEntry& section, RetryPolicy* p) {
    if (!section.value.IsMap()) {
      r_.Error(
          section.value.IsNull() ? section.key_node : section.value, section.path,
          fmt::format("expected a map (attempts, backoff, ...), got {}", KindName(section.value)));
      return;
    }
    p->retry_on = {ErrorClass::kProcessingFailure, ErrorClass::kTimeout, ErrorClass::kUnknown};
    bool max_backoff_set = false;
    const MapEntry* max_backoff_entry = nullptr;
    const MapEntry* immediate_entry = nullptr;
    std::vector<MapEntry> fields = r_.Fields(
        section.value, section.path,
        {"attempts", "backoff", "max_backoff", "multiplier", "jitter", "immediate", "on"});
    for (const MapEntry& e : fields) {
      if (e.key == "attempts") {
        if (auto v = r_.Int(e, 1, 1000000)) p->max_attempts = static_cast<int>(*v);
      } else if (e.key == "immediate") {
        immediate_entry = &e;
        if (auto v = r_.Int(e, 0, 1000000)) p->immediate_attempts = static_cast<int>(*v);
      } else if (e.key == "backoff" || e.key == "max_backoff") {
        auto v = r_.DurationMs(e);
        if (!v) continue;
        if (*v < 0) {
          r_.Error(e.value, e.path, "a backoff cannot be negative or infinite");
          continue;
        }
        if (e.key == "backoff") {
          p->initial_backoff = std::chrono::milliseconds(*v);
        } else {
          p->max_backoff = std::chrono::milliseconds(*v);
          max_backoff_set = true;
          max_backoff_entry = &e;
        }
      } else if (e.key == "multiplier") {
        auto v = r_.Double(e);
        if (!v) continue;
        if (*v < 1.0 || *v > 1000.0) {
          r_.Error(e.value, e.path, fmt::format("multiplier {} must be from 1 to 1000", *v));
          continue;
        }
        p->multiplier = *v;
      } else if (e.key == "jitter") {
        auto v = r_.Double(e);
        if (!v) continue;
        if (*v < 0.0 || *v > 1.0) {
          r_.Error(e.value, e.path,
                   fmt::format("jitter {} must be a fraction from 0 to 1 (0.2 = ±20%)", *v));
          continue;
        }
        p->jitter = *v;
      } else if (e.key == "on") {
        std::vector<YAML::Node> nodes;
        auto list = r_.StringList(e, /*allow_empty=*/true, &nodes);
        if (!list) continue;
        p->retry_on.clear();
        for (size_t i = 0; i < list->size(); ++i) {
          auto c = ParseErrorClass((*list)[i]);
          if (!c) {
            r_.Error(nodes[i], fmt::format("{}[{}]", e.path, i),
                     fmt::format("unknown error class \"{}\" (expected SCHEMA_VALIDATION, "
                                 "PROCESSING_FAILURE, TIMEOUT, BUSINESS_LOGIC or UNKNOWN)",
                                 (*list)[i]));
            continue;
          }
          if (std::find(p->retry_on.begin(), p->retry_on.end(), *c) == p->retry_on.end()) {
            p->retry_on.push_back(*c);
          }
        }
      }
    }
    if (!max_backoff_set) {
      p->max_backoff = std::max(p->initial_backoff, kDefaultMaxBackoff);
    } else if (p->max_backoff < p->initial_backoff) {
      r_.Error(max_backoff_entry->value, max_backoff_entry->path,
               fmt::format("max_backoff {} is less than backoff {}",
                           FormatDurationMs(p->max_backoff.count()),
                           FormatDurationMs(p->initial_backoff.count())));
    }
    if (immediate_entry != nullptr && p->immediate_attempts >= p->max_attempts &&
        p->immediate_attempts > 0) {
      r_.Error(immediate_entry->value, immediate_entry->path,
               fmt::format("{} immediate retries do not fit in {} attempts (attempts counts the "
                           "first try and every retry)",
                           p->immediate_attempts, p->max_attempts));
    }
  }

  std::optional<DedupPolicy> ReadDedup(const MapEntry& section) {
    if (!section.value.IsMap()) {
      r_.Error(
          section.value.IsNull() ? section.key_node : section.value, section.path,
          fmt::format("expected a map (fields, ttl, persistent), got {}", KindName(section.value)));
      return std::nullopt;
    }
    DedupPolicy d;
    bool has_fields = false;
    for (const MapEntry& e :
         r_.Fields(section.value, section.path, {"fields", "ttl", "persistent"})) {
      if (e.key == "fields") {
        has_fields = true;
        std::vector<YAML::Node> nodes;
        auto list = r_.StringList(e, /*allow_empty=*/false, &nodes);
        if (!list) continue;
        for (size_t i = 0; i < list->size(); ++i) {
          if (!IsValidFieldPath((*list)[i])) {
            r_.Error(nodes[i], fmt::format("{}[{}]", e.path, i),
                     fmt::format("invalid field path \"{}\"", (*list)[i]));
            continue;
          }
          d.fields.push_back((*list)[i]);
        }
      } else if (e.key == "ttl") {
        auto v = r_.DurationMs(e);
        if (!v) continue;
        if (*v <= 0) {
          r_.Error(e.value, e.path, "ttl must be a positive duration");
          continue;
        }
        d.ttl = std::chrono::milliseconds(*v);
      } else if (e.key == "persistent") {
        if (auto v = r_.Bool(e)) d.persistent = *v;
      }
    }
    if (!has_fields) {
      r_.Error(section.key_node, section.path, "missing `fields: [...]` (the dedup key)");
    }
    return d;
  }

  std::optional<ReorderPolicy> ReadReorder(const MapEntry& section,
                                           std::optional<MapEntry>* late_dlq_entry) {
    if (!section.value.IsMap()) {
      r_.Error(section.value.IsNull() ? section.key_node : section.value, section.path,
               fmt::format("expected a map (sequence_field, window, tolerance, late), got {}",
                           KindName(section.value)));
      return std::nullopt;
    }
    ReorderPolicy p;
    bool has_field = false;
    for (const MapEntry& e : r_.Fields(section.value, section.path,
                                       {"sequence_field", "window", "tolerance", "late"})) {
      if (e.key == "sequence_field") {
        has_field = true;
        if (auto s = ReadFieldPath(e)) p.sequence_field = *s;
      } else if (e.key == "window") {
        if (auto v = r_.Int(e, 1, 1000000)) p.window = static_cast<int>(*v);
      } else if (e.key == "tolerance") {
        if (auto v = r_.Int(e, 0, 1000000)) p.tolerance = static_cast<int>(*v);
      } else if (e.key == "late") {
        auto s = r_.String(e);
        if (!s) continue;
        if (*s == "drop") {
          p.late = LatePolicy::kDrop;
        } else if (*s == "dlq") {
          p.late = LatePolicy::kDlq;
          *late_dlq_entry = e;
        } else {
          r_.Error(e.value, e.path,
                   fmt::format("unknown late policy \"{}\" (expected drop or dlq)", *s));
        }
      }
    }
    if (!has_field) r_.Error(section.key_node, section.path, "missing `sequence_field:`");
    return p;
  }

  // --- cross-references ----------------------------------------------------

  void CheckTopicRefs(const Topology& topo) {
    std::vector<std::string> names;
    for (const TopicSpec& t : topo.topics) names.push_back(t.name);
    for (const TopicRef& ref : refs_) {
      if (topo.FindTopic(ref.topic) != nullptr) continue;
      std::string message = fmt::format(
          "{} names topic \"{}\", which is not declared under topics:", ref.what, ref.topic);
      if (std::string s = ClosestMatch(ref.topic, names); !s.empty()) {
        message += fmt::format(" (did you mean \"{}\"?)", s);
      }
      r_.Error(ref.where, ref.path, message);
    }
  }

  // A group that reads an event type's topic and its mirror_topic (the
  // dual-subscribe step of a migration) would handle every event twice
  // without de-duplication.
  void CheckDualSubscribe(const Topology& topo) {
    for (const ConsumerGroupSpec& g : topo.consumer_groups) {
      if (g.dedup) continue;
      auto reads = [&g](const std::string& t) {
        return std::find(g.topics.begin(), g.topics.end(), t) != g.topics.end();
      };
      for (const EventTypeSpec& e : topo.event_types) {
        if (e.mirror_topic.empty() || !reads(e.mirror_topic)) continue;
        for (const std::string& t : e.topics) {
          if (!reads(t)) continue;
          r_.Error(g.where, JoinPath(JoinPath("consumer_groups", g.name), "topics"),
                   fmt::format("reads both {} and its mirror {} (event type {}) without "
                               "`dedup:`, so every dual-published event would be handled twice; "
                               "add dedup: {{fields: [{}]}}",
                               t, e.mirror_topic, e.name,
                               e.id_field.empty() ? "<the event id field>" : e.id_field));
        }
      }
    }
  }

  YamlReader r_;
  std::vector<TopicRef> refs_;
};

}  // namespace
}  // namespace topology

Result<Topology> ParseTopology(const std::string& text, const std::string& path, EnvLookup env) {
  topology::Loader loader(path, env != nullptr ? env : &topology::ProcessEnv);
  return loader.Load(text, path);
}

Result<Topology> LoadTopology(const std::string& path, EnvLookup env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return Status::NotFound(fmt::format("{}: no such file", path));
    }
    return Status::Io(fmt::format("{}: cannot read the file", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Io(fmt::format("{}: read failed", path));
  return ParseTopology(text.str(), path, env);
}

}  // namespace weir
