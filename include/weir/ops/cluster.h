// weir/ops/cluster.h — how a weir command reaches its cluster.
//
// A weir.yaml names bootstrap servers, or `embedded`. Until weir's embedded
// broker exists, `embedded` means an in-process librdkafka mock cluster that
// lives as long as the ClusterConnection: its data does not outlive the
// command. Commands say so in a warning.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/kafka/mock_cluster.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::ops {

struct ConnectOptions {
  // Overrides weir.yaml's bootstrap servers when non-empty ("host:port,...").
  std::string bootstrap;
  // librdkafka "name=value" overrides (-X on the command line), applied last.
  std::vector<std::string> properties;
  // For the embedded mock: create the topics weir.yaml declares on start.
  bool create_declared_topics = false;
};

struct ClusterConnection {
  kafka::ClientConfig config;  // bootstrap.servers is always set
  // Set while `embedded` is served by an in-process mock cluster.
  std::unique_ptr<kafka::MockCluster> embedded_mock;
  bool embedded() const { return embedded_mock != nullptr; }
};

Result<ClusterConnection> ConnectCluster(const Topology& topology, const ConnectOptions& options);

}  // namespace weir::ops
