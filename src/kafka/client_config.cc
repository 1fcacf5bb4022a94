#include "weir/kafka/client_config.h"

#include <fmt/format.h>

#include "weir/topology.h"

namespace weir::kafka {

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
