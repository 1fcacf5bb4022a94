// weir's registry REST API driven by an independent client: Debian's
// python3-confluent-kafka SchemaRegistryClient (tests/registry/
// confluent_client_interop.py) against a real loopback server.
#include <gtest/gtest.h>

#include <filesystem>

#include "registry/registry_server.h"

namespace weir::registry {
namespace {

bool HavePythonClient() {
  auto r = testing::RunCommand(
      {"/usr/bin/python3", "-c", "import confluent_kafka.schema_registry, requests"});
  return r.exit_code == 0;
}

TEST(RegistryInterop, ConfluentKafkaPythonClient) {
  if (!HavePythonClient()) {
    GTEST_SKIP() << "python3-confluent-kafka and python3-requests are needed (scripts/deps.sh)";
  }
  RegistryServer server;
  auto r = testing::RunCommand(
      {"/usr/bin/python3", testing::SourcePath("tests/registry/confluent_client_interop.py"),
       server.url()},
      {}, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\nOK\n"), std::string::npos) << r.out << r.err;
  // What the Python client registered is in weir's folder, readable by weir.
  auto subjects = server.registry().ListSubjects();
  ASSERT_TRUE(subjects.ok());
  EXPECT_EQ(*subjects, std::vector<std::string>{"alpr.events.plates-value"});
  auto latest = server.registry().GetVersion("alpr.events.plates-value", kLatestVersion);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_TRUE(server.registry().GetAvroById(latest->id).ok());
}

}  // namespace
}  // namespace weir::registry
