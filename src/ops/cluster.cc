#include "weir/ops/cluster.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "weir/kafka/admin.h"

namespace weir::ops {
namespace {

Status CreateMissingTopics(const Topology& topology, const kafka::ClientConfig& config) {
  if (topology.topics.empty()) return Status::Ok();
  auto admin = kafka::Admin::Create(config);
  if (!admin.ok()) return admin.status();
  auto md = (*admin)->Metadata(std::chrono::seconds(10));
  if (!md.ok()) return md.status().WithContext("reading the embedded broker's topics");
  std::vector<kafka::NewTopic> missing;
  for (const TopicSpec& t : topology.topics) {
    if (md->FindTopic(t.name) != nullptr) continue;
    missing.push_back(kafka::NewTopic{t.name, t.partitions, t.replication, t.DesiredConfigs()});
  }
  if (missing.empty()) return Status::Ok();
  auto results = (*admin)->CreateTopics(missing, std::chrono::seconds(30));
  if (!results.ok()) return results.status();
  for (const kafka::ItemResult& r : *results) {
    if (!r.status.ok() && r.status.code() != StatusCode::kAlreadyExists) {
      return r.status.WithContext(fmt::format("creating declared topic {}", r.name));
    }
    spdlog::info("embedded broker: created declared topic {}", r.name);
  }
  return Status::Ok();
}

}  // namespace

std::string EmbeddedDataDir(const Topology& topology) {
  if (const char* env = std::getenv("WEIR_EMBEDDED_DATA_DIR"); env != nullptr && *env != '\0') {
    return std::filesystem::path(env).lexically_normal().string();
  }
  std::filesystem::path dir = topology.cluster.embedded_data_dir.empty()
                                  ? std::filesystem::path(".weir/data")
                                  : std::filesystem::path(topology.cluster.embedded_data_dir);
  if (dir.is_relative() && !topology.folder.empty()) dir = topology.folder / dir;
  return dir.lexically_normal().string();
}

Result<ClusterConnection> ConnectCluster(const Topology& topology, const ConnectOptions& options) {
  ClusterConnection conn;
  conn.config = kafka::ClientConfig::FromTopology(topology, options.bootstrap);
  for (const std::string& assignment : options.properties) {
    WEIR_RETURN_IF_ERROR(conn.config.SetFromAssignment(assignment, "-X"));
  }
  if (!conn.config.Get("bootstrap.servers").empty()) return conn;

  conn.embedded = true;
  broker::BrokerOptions bo;
  bo.data_dir = EmbeddedDataDir(topology);
  bo.listen = topology.cluster.embedded_listen;
  auto running = broker::Broker::Start(bo);
  std::string address;
  if (!running.ok() && running.status().code() == StatusCode::kAlreadyExists) {
    // Another process serves this data folder: use it. If it stopped in the
    // meantime, start our own.
    auto other = broker::RunningBrokerAddress(bo.data_dir);
    if (other.ok()) {
      address = *other;
    } else if (other.status().code() == StatusCode::kNotFound) {
      running = broker::Broker::Start(bo);
    } else {
      return other.status();
    }
  }
  if (!address.empty()) {
    conn.config.Set("bootstrap.servers", address);
    spdlog::info("embedded broker: using the broker another process runs on {} at {}",
                 bo.data_dir.string(), address);
  } else if (running.ok()) {
    conn.embedded_broker = std::move(running).value();
    conn.config.Set("bootstrap.servers", conn.embedded_broker->bootstrap_servers());
    spdlog::info("embedded broker: serving {} on {} for the length of this command",
                 bo.data_dir.string(), conn.embedded_broker->bootstrap_servers());
  } else {
    return running.status().WithContext("starting the embedded broker");
  }
  if (options.create_declared_topics) {
    WEIR_RETURN_IF_ERROR(CreateMissingTopics(topology, conn.config));
  }
  return conn;
}

}  // namespace weir::ops
