// weir/ops/cluster.h — how a weir command reaches its cluster.
//
// A weir.yaml names bootstrap servers, or `embedded` (the default when it
// names none). Embedded means weir's own broker (weir/broker/broker.h) on a
// data folder beside weir.yaml (cluster.embedded.data_dir, default
// .weir/data). The first weir command that needs it starts it in its own
// process, listening on loopback; while it runs, other processes (a second
// weir command, kcat, Python clients) reach it at the address recorded in
// the data folder, and a second weir command reuses it instead of starting
// another broker on the same files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "weir/broker/broker.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::ops {

struct ConnectOptions {
  // Overrides weir.yaml's bootstrap servers when non-empty ("host:port,...").
  std::string bootstrap;
  // librdkafka "name=value" overrides (-X on the command line), applied last.
  std::vector<std::string> properties;
  // For the embedded broker: create the topics weir.yaml declares that do not
  // exist yet (as `weir topics apply` would, creations only).
  bool create_declared_topics = false;
};

struct ClusterConnection {
  kafka::ClientConfig config;  // bootstrap.servers is always set
  // Set while this process serves the embedded broker; it stops when the
  // connection is destroyed.
  std::unique_ptr<broker::Broker> embedded_broker;
  // True when `embedded` is served by this process or another weir process.
  bool embedded = false;
};

Result<ClusterConnection> ConnectCluster(const Topology& topology, const ConnectOptions& options);

// The embedded broker's data folder for |topology| (absolute or relative to
// the working directory): $WEIR_EMBEDDED_DATA_DIR when set (tests use it to
// keep the examples' folders clean), else cluster.embedded.data_dir
// relative to weir.yaml's folder, else .weir/data beside weir.yaml.
std::string EmbeddedDataDir(const Topology& topology);

}  // namespace weir::ops
