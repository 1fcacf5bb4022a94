#include "weir/kafka/client_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "weir/topology.h"

namespace weir::kafka {

namespace {

bool IsConsumerOnlyProperty(std::string_view name) {
  static constexpr std::string_view kNames[] = {"group.id",
                                                "group.instance.id",
                                                "session.timeout.ms",
                                                "heartbeat.interval.ms",
                                                "max.poll.interval.ms",
                                                "auto.offset.reset",
                                                "enable.auto.commit",
                                                "auto.commit.interval.ms",
                                                "enable.auto.offset.store",
                                                "partition.assignment.strategy",
                                                "isolation.level",
                                                "check.crcs",
                                                "group.protocol.type",
                                                "queued.min.messages",
                                                "queued.max.messages.kbytes",
                                                "enable.partition.eof",
                                                "consume.callback.max.messages",
                                                "coordinator.query.interval.ms"};
  if (name.starts_with("fetch.")) return true;
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool IsProducerOnlyProperty(std::string_view name) {
  static constexpr std::string_view kNames[] = {"acks",
                                                "request.required.acks",
                                                "enable.idempotence",
                                                "message.timeout.ms",
                                                "delivery.timeout.ms",
                                                "linger.ms",
                                                "queue.buffering.max.ms",
                                                "queue.buffering.max.messages",
                                                "queue.buffering.max.kbytes",
                                                "batch.num.messages",
                                                "batch.size",
                                                "compression.type",
                                                "compression.codec",
                                                "compression.level",
                                                "retries",
                                                "message.send.max.retries",
                                                "max.in.flight.requests.per.connection",
                                                "max.in.flight",
                                                "partitioner",
                                                "transactional.id",
                                                "request.timeout.ms",
                                                "sticky.partitioning.linger.ms",
                                                "enable.gapless.guarantee"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

}  // namespace

ClientConfig ClientConfig::ForProducer() const {
  ClientConfig c;
  for (const auto& [name, value] : props_) {
    if (!IsConsumerOnlyProperty(name)) c.props_.emplace(name, value);
  }
  return c;
}

ClientConfig ClientConfig::ForConsumer() const {
  ClientConfig c;
  for (const auto& [name, value] : props_) {
    if (!IsProducerOnlyProperty(name)) c.props_.emplace(name, value);
  }
  return c;
}

ClientConfig& ClientConfig::Set(std::string name, std::string value) {
  props_.insert_or_assign(std::move(name), std::move(value));
  return *this;
}

ClientConfig& ClientConfig::SetDefault(std::string name, std::string value) {
  props_.try_emplace(std::move(name), std::move(value));
  return *this;
}

bool ClientConfig::Has(std::string_view name) const { return props_.find(name) != props_.end(); }

std::string ClientConfig::Get(std::string_view name) const {
  auto it = props_.find(name);
  return it == props_.end() ? std::string() : it->second;
}

void ClientConfig::Erase(std::string_view name) {
  auto it = props_.find(name);
  if (it != props_.end()) props_.erase(it);
}

std::string ClientConfig::ToRedactedString() const {
  std::string out;
  for (const auto& [name, value] : props_) {
    out += name;
    out += '=';
    out += IsSecretProperty(name) ? std::string("[redacted]") : value;
    out += '\n';
  }
  return out;
}

Status ClientConfig::SetFromAssignment(std::string_view assignment, std::string_view what) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    // Never echo the text: it may be a secret value pasted without its name.
    return Status::InvalidArgument(
        fmt::format("{}: expected name=value, got text without '='", what));
  }
  std::string name(assignment.substr(0, eq));
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  size_t first = name.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return Status::InvalidArgument(fmt::format("{}: expected name=value, got an empty name", what));
  }
  name.erase(0, first);
  Set(std::move(name), std::string(assignment.substr(eq + 1)));
  return Status::Ok();
}

ClientConfig ClientConfig::FromTopology(const Topology& topology,
                                        std::string_view bootstrap_override) {
  ClientConfig cfg;
  const ClusterSpec& cluster = topology.cluster;
  if (!cluster.client_id.empty()) cfg.Set("client.id", cluster.client_id);
  // Properties are passed through verbatim and win over the derived values.
  for (const auto& [name, prop] : cluster.properties) cfg.Set(name, prop.value);
  if (!bootstrap_override.empty()) {
    cfg.Set("bootstrap.servers", std::string(bootstrap_override));
  } else if (!cluster.embedded) {
    if (!cluster.bootstrap_servers.empty()) cfg.Set("bootstrap.servers", cluster.bootstrap_servers);
  } else {
    // The caller supplies the embedded cluster's address.
    cfg.Erase("bootstrap.servers");
  }
  return cfg;
}

}  // namespace weir::kafka
