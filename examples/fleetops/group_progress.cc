#include "group_progress.h"

#include <fmt/format.h>

#include <map>
#include <thread>

namespace fleetops {

using weir::Status;

weir::Result<bool> GroupCaughtUp(weir::kafka::Admin& admin, const std::string& group,
                                 const std::vector<std::string>& topics) {
  constexpr std::chrono::seconds kTimeout(10);
  WEIR_ASSIGN_OR_RETURN(weir::kafka::ClusterMetadata md, admin.Metadata(kTimeout));
  WEIR_ASSIGN_OR_RETURN(std::vector<weir::TopicPartitionOffset> committed,
                        admin.CommittedOffsets(group, {}, kTimeout));
  std::map<std::pair<std::string, int32_t>, int64_t> at;
  for (const weir::TopicPartitionOffset& c : committed) {
    at[{c.topic, c.partition.value()}] = c.offset.value();
  }
  for (const std::string& topic : topics) {
    const weir::kafka::TopicInfo* t = md.FindTopic(topic);
    if (t == nullptr) return Status::NotFound(fmt::format("topic {} does not exist", topic));
    for (const weir::kafka::PartitionInfo& p : t->partitions) {
      WEIR_ASSIGN_OR_RETURN(auto watermarks, admin.ListOffsets({topic, p.id}, kTimeout));
      const int64_t end = watermarks.second.value();
      auto it = at.find({topic, p.id.value()});
      // No commit yet (or the "invalid" offset): as if at the first record.
      const int64_t done = it == at.end() || it->second < 0 ? watermarks.first.value() : it->second;
      if (done < end) return false;
    }
  }
  return true;
}

Status WaitGroupCaughtUp(weir::kafka::Admin& admin, const std::string& group,
                         const std::vector<std::string>& topics, std::chrono::milliseconds timeout,
                         const std::atomic<bool>* stop) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (stop != nullptr && stop->load()) {
      return Status::Cancelled(fmt::format("stopped waiting for group {}", group));
    }
    auto caught_up = GroupCaughtUp(admin, group, topics);
    if (caught_up.ok() && *caught_up) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Timeout(fmt::format(
          "group {} has not processed {} within {} ms{}", group, fmt::join(topics, ", "),
          timeout.count(), caught_up.ok() ? "" : ": " + caught_up.status().ToString()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace fleetops
