// Helpers of the publish tests: a topology in a temporary folder and reading
// a topic back from its beginning.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "weir/kafka/consumer.h"
#include "weir/topology.h"

namespace weir::testing {

struct ReadRecord {
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::map<std::string, std::string> headers;
};

// Every record of |topic| (|partitions| partitions), partition by partition
// in offset order. Reads up to the high watermarks queried first.
inline std::vector<ReadRecord> ReadTopic(const kafka::ClientConfig& base, const std::string& topic,
                                         int partitions) {
  kafka::ClientConfig config = base;
  config.Set("group.id", "weir-test-reader");
  config.Set("enable.auto.commit", "false");
  auto consumer = kafka::Consumer::Create(config, {});
  EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
  if (!consumer.ok()) return {};
  std::vector<TopicPartitionOffset> assign;
  std::map<int32_t, int64_t> end;
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    auto wm = (*consumer)->QueryWatermarks({topic, Partition(p)}, std::chrono::seconds(10));
    EXPECT_TRUE(wm.ok()) << wm.status().ToString();
    if (!wm.ok()) return {};
    end[p] = wm->high.value();
    total += wm->high.value() - wm->low.value();
    assign.push_back({topic, Partition(p), kOffsetBeginning, {}});
  }
  EXPECT_TRUE((*consumer)->Assign(assign).ok());
  std::map<int32_t, std::vector<ReadRecord>> by_partition;
  int64_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got < total && std::chrono::steady_clock::now() < deadline) {
    auto recs = (*consumer)->Poll(std::chrono::milliseconds(200));
    EXPECT_TRUE(recs.ok()) << recs.status().ToString();
    if (!recs.ok()) break;
    for (const Record& r : *recs) {
      ReadRecord rr;
      rr.partition = r.partition().value();
      rr.offset = r.offset().value();
      if (r.key()) rr.key = std::string(*r.key());
      if (r.value()) rr.value = std::string(*r.value());
      for (const HeaderView& h : r.headers())
        rr.headers[std::string(h.key)] = std::string(h.value.value_or(""));
      by_partition[rr.partition].push_back(std::move(rr));
      ++got;
    }
  }
  EXPECT_EQ(got, total) << "records of " << topic << " read back";
  std::vector<ReadRecord> out;
  for (auto& [p, recs] : by_partition) {
    for (ReadRecord& r : recs) out.push_back(std::move(r));
  }
  return out;
}

// Parses |yaml| as the weir.yaml of |dir| (written there as weir.yaml).
inline Topology MakeTopology(const TempDir& dir, const std::string& yaml) {
  std::string path = dir.WriteFile("weir.yaml", yaml);
  auto t = LoadTopology(path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : Topology{};
}

}  // namespace weir::testing
