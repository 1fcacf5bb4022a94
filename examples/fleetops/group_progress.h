// examples/fleetops/group_progress.h — "has this consumer group processed
// everything?", asked the way Kafka tools ask it: the group's committed
// offset of every partition of its topics is at the partition's end.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "weir/kafka/admin.h"
#include "weir/status.h"

namespace fleetops {

// True when |group| has committed, on every partition of |topics|, the
// partition's end offset (a partition never written counts as caught up).
weir::Result<bool> GroupCaughtUp(weir::kafka::Admin& admin, const std::string& group,
                                 const std::vector<std::string>& topics);

// Asks GroupCaughtUp every 200 ms until it is true (OK), |timeout| passes
// (kTimeout) or |stop| turns true (kCancelled).
weir::Status WaitGroupCaughtUp(weir::kafka::Admin& admin, const std::string& group,
                               const std::vector<std::string>& topics,
                               std::chrono::milliseconds timeout,
                               const std::atomic<bool>* stop = nullptr);

}  // namespace fleetops
