// weir-bench-mock — hosts a librdkafka mock cluster for benchmarks that
// compare weir with other clients (kcat) on the same broker.
//
// Usage: weir-bench-mock TOPIC[,TOPIC...] PARTITIONS
// Prints the bootstrap servers on the first line of stdout, then serves
// until stdin is closed.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "weir/kafka/mock_cluster.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: weir-bench-mock TOPIC PARTITIONS\n");
    return 2;
  }
  auto cluster = weir::kafka::MockCluster::Start(1);
  if (!cluster.ok()) {
    fmt::print(stderr, "{}\n", cluster.status().ToString());
    return 1;
  }
  std::string topics = argv[1];
  size_t start = 0;
  while (start <= topics.size()) {
    size_t comma = topics.find(',', start);
    if (comma == std::string::npos) comma = topics.size();
    weir::Status s =
        (*cluster)->CreateTopic(topics.substr(start, comma - start), std::atoi(argv[2]), 1);
    if (!s.ok()) {
      fmt::print(stderr, "{}\n", s.ToString());
      return 1;
    }
    start = comma + 1;
  }
  fmt::print("{}\n", (*cluster)->bootstrap_servers());
  std::fflush(stdout);
  char buf[256];
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}
