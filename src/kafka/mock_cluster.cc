#include "weir/kafka/mock_cluster.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/rdkafka_util.h"

namespace weir::kafka {
namespace {

rd_kafka_mock_cluster_t* Mock(void* p) { return static_cast<rd_kafka_mock_cluster_t*>(p); }

}  // namespace

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers) {
  if (brokers < 1) return Status::InvalidArgument("a mock cluster needs at least one broker");
  // The host handle only owns the mock cluster's thread; keep it minimal.
  ClientConfig host;
  host.Set("client.id", "weir-mock-host");
  // The host handle has no bootstrap servers by design: silence librdkafka's
  // notice about that (level 5); warnings and errors still come through.
  host.Set("log_level", "4");
  WEIR_ASSIGN_OR_RETURN(internal::ConfPtr conf, internal::BuildConf(host));
  WEIR_ASSIGN_OR_RETURN(internal::RdKafkaPtr rk,
                        internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf), host));
  rd_kafka_mock_cluster_t* mcluster = rd_kafka_mock_cluster_new(rk.get(), brokers);
  if (mcluster == nullptr) {
    return Status::Unavailable(fmt::format("cannot start a {}-broker mock cluster", brokers));
  }
  std::unique_ptr<MockCluster> mc(new MockCluster());
  mc->rk_ = rk.release();
  mc->mcluster_ = mcluster;
  mc->brokers_ = brokers;
  return mc;
}

MockCluster::~MockCluster() {
  if (mcluster_ != nullptr) rd_kafka_mock_cluster_destroy(Mock(mcluster_));
  if (rk_ != nullptr) rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
}

std::string MockCluster::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(Mock(mcluster_));
}

int MockCluster::broker_count() const { return brokers_; }

Status MockCluster::CreateTopic(const std::string& topic, int partitions, int replication) {
  return internal::ErrorStatus(
      rd_kafka_mock_topic_create(Mock(mcluster_), topic.c_str(), partitions, replication),
      fmt::format("creating mock topic \"{}\"", topic));
}

Status MockCluster::SetBrokerDown(int32_t broker_id) {
  return internal::ErrorStatus(rd_kafka_mock_broker_set_down(Mock(mcluster_), broker_id),
                               fmt::format("setting mock broker {} down", broker_id));
}

Status MockCluster::SetBrokerUp(int32_t broker_id) {
  return internal::ErrorStatus(rd_kafka_mock_broker_set_up(Mock(mcluster_), broker_id),
                               fmt::format("setting mock broker {} up", broker_id));
}

Status MockCluster::SetBrokerRtt(int32_t broker_id, int rtt_ms) {
  return internal::ErrorStatus(rd_kafka_mock_broker_set_rtt(Mock(mcluster_), broker_id, rtt_ms),
                               fmt::format("setting mock broker {} rtt", broker_id));
}

void MockCluster::PushRequestErrors(int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> errs;
  errs.reserve(errors.size());
  for (int e : errors) errs.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(Mock(mcluster_), api_key, errs.size(), errs.data());
}

void MockCluster::ClearRequestErrors(int16_t api_key) {
  rd_kafka_mock_clear_request_errors(Mock(mcluster_), api_key);
}

Status MockCluster::SetPartitionLeader(const std::string& topic, int32_t partition,
                                       int32_t broker_id) {
  return internal::ErrorStatus(
      rd_kafka_mock_partition_set_leader(Mock(mcluster_), topic.c_str(), partition, broker_id),
      fmt::format("setting the leader of mock partition {} [{}]", topic, partition));
}

Status MockCluster::SetGroupCoordinator(const std::string& group, int32_t broker_id) {
  return internal::ErrorStatus(
      rd_kafka_mock_coordinator_set(Mock(mcluster_), "group", group.c_str(), broker_id),
      fmt::format("setting the coordinator of group \"{}\"", group));
}

void* MockCluster::native_handle() const { return mcluster_; }

}  // namespace weir::kafka
