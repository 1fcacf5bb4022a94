// Helpers the end to end tests of the reference systems (examples/) share:
// polling for an outcome, and an example's topology on an in-process
// embedded broker with a Publisher on it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "broker/broker_test_util.h"
#include "weir/publish/publisher.h"
#include "weir/topology.h"

namespace weir::examples::testing {

// Polls |pred| every |every| until it holds (true) or |timeout| passes
// (false).
inline bool Eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60),
                       std::chrono::milliseconds every = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

// Loads the topology at |config| into |*topology| and creates each of its
// topics on |broker|. Fails fatally if it does not load: call it under
// ASSERT_NO_FATAL_FAILURE.
inline void LoadTopologyOnBroker(const std::string& config, broker::testing::TestBroker& broker,
                                 Topology* topology) {
  auto topo = LoadTopology(config);
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  *topology = std::move(*topo);
  for (const TopicSpec& t : topology->topics) broker.CreateTopic(t.name, t.partitions);
}

// Starts a Publisher for |topology| on |broker|, spooling in |spool_dir|,
// into |*publisher|. Fails fatally if it cannot: call it under
// ASSERT_NO_FATAL_FAILURE.
inline void StartPublisher(const Topology& topology, const broker::testing::TestBroker& broker,
                           const std::string& spool_dir,
                           std::unique_ptr<publish::Publisher>* publisher) {
  publish::PublisherOptions po;
  po.spool_dir = spool_dir;
  auto p = publish::Publisher::Create(topology, broker.Config(), po);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  *publisher = std::move(*p);
}

}  // namespace weir::examples::testing
