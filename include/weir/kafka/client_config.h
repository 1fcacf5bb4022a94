// weir/kafka/client_config.h — librdkafka properties for one client.
//
// A ClientConfig is an ordered set of librdkafka property names and values,
// passed to librdkafka verbatim (see librdkafka's CONFIGURATION.md). Values
// whose names look secret (passwords, keys, tokens) are never printed:
// ToRedactedString() and every error message show "[redacted]" instead.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "weir/status.h"

namespace weir {
struct Topology;
}

namespace weir::kafka {

class ClientConfig {
 public:
  ClientConfig() = default;

  // Sets |name| to |value|, replacing an earlier value.
  ClientConfig& Set(std::string name, std::string value);
  // Sets |name| only when it is not set yet.
  ClientConfig& SetDefault(std::string name, std::string value);
  bool Has(std::string_view name) const;
  // The value of |name|, or "" when unset.
  std::string Get(std::string_view name) const;
  void Erase(std::string_view name);

  const std::map<std::string, std::string, std::less<>>& properties() const { return props_; }

  // "name=value" pairs, one per line, secrets shown as [redacted].
  std::string ToRedactedString() const;

  // Parses "name=value"; returns InvalidArgument naming |what| on bad form.
  Status SetFromAssignment(std::string_view assignment, std::string_view what);

  // A copy without the properties only consumers understand (group.id,
  // fetch.*, session.timeout.ms, ...), for a producer made from a consumer's
  // settings; librdkafka would warn about each.
  ClientConfig ForProducer() const;
  // A copy without the properties only producers understand (acks, linger.ms,
  // compression.type, ...), for a consumer made from a producer's settings.
  ClientConfig ForConsumer() const;

  // Builds the base client configuration for |topology|: bootstrap servers
  // (or |bootstrap_override| when non-empty), client.id and every property
  // of the cluster block, including security settings.
  static ClientConfig FromTopology(const Topology& topology, std::string_view bootstrap_override);

 private:
  std::map<std::string, std::string, std::less<>> props_;
};

}  // namespace weir::kafka
