#include "weir/ops/cluster.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace weir::ops {

Result<ClusterConnection> ConnectCluster(const Topology& topology, const ConnectOptions& options) {
  ClusterConnection conn;
  conn.config = kafka::ClientConfig::FromTopology(topology, options.bootstrap);
  for (const std::string& assignment : options.properties) {
    WEIR_RETURN_IF_ERROR(conn.config.SetFromAssignment(assignment, "-X"));
  }
  if (!conn.config.Get("bootstrap.servers").empty()) return conn;

  // Embedded: until the embedded broker exists, an in-process mock cluster.
  auto mock = kafka::MockCluster::Start(1);
  if (!mock.ok()) return mock.status().WithContext("starting the embedded cluster");
  conn.embedded_mock = std::move(mock).value();
  conn.config.Set("bootstrap.servers", conn.embedded_mock->bootstrap_servers());
  spdlog::warn(
      "embedded cluster: an in-process librdkafka mock cluster at {} (memory only; its data "
      "ends with this command). Set cluster.bootstrap in weir.yaml or pass --bootstrap to use "
      "a real cluster.",
      conn.embedded_mock->bootstrap_servers());
  if (options.create_declared_topics) {
    for (const TopicSpec& t : topology.topics) {
      Status s = conn.embedded_mock->CreateTopic(t.name, t.partitions, 1);
      if (!s.ok())
        return s.WithContext(fmt::format("creating topic {} on the embedded cluster", t.name));
    }
  }
  return conn;
}

}  // namespace weir::ops
