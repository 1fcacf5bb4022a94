// `weir schema list|register|check|show` end to end: the built binary, a
// weir.yaml whose `registry:` is a folder, and bad input with its exit codes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <set>

#include "registry/registry_server.h"
#include "support/test_support.h"
#include "weir/registry/registry.h"

namespace weir {
namespace {

using testing::CommandResult;
using testing::RunCommand;

constexpr const char* kPlate =
    R"({"type":"record","name":"Plate","namespace":"alpr","fields":[)"
    R"({"name":"plate","type":"string"},{"name":"speed","type":"int"}]})";
constexpr const char* kPlateNoDefault =
    R"({"type":"record","name":"Plate","namespace":"alpr","fields":[)"
    R"({"name":"plate","type":"string"},{"name":"speed","type":"int"},)"
    R"({"name":"colour","type":"string"}]})";
constexpr const char* kLogs = R"({"type": "object", "properties": {"user": {"type": "string"}}})";

class SchemaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("schemas/plate.avsc", kPlate);
    dir_.WriteFile("schemas/logs.json", kLogs);
    config_ = dir_.WriteFile("weir.yaml", R"(
registry:
  folder: reg
  compatibility: BACKWARD
topics:
  plates: {partitions: 1}
  plates.mirror: {partitions: 1}
  logs: {partitions: 1}
event_types:
  PlateEvent:
    schema: schemas/plate.avsc
    topic: plates
    mirror_topic: plates.mirror
  LogEvent:
    schema: schemas/logs.json
    topic: logs
  Untyped:
    topic: logs
)");
  }

  CommandResult Weir(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::WeirBinary(), "-c", config_, "schema"});
    return RunCommand(args, {}, std::chrono::seconds(60));
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  testing::TempDir dir_;
  std::string config_;
};

TEST_F(SchemaCli, HelpDescribesEverySubcommand) {
  CommandResult r = RunCommand({testing::WeirBinary(), "schema", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"list", "register", "check", "show"}) {
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  }
  r = RunCommand({testing::WeirBinary(), "schema", "register", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--topic", "--key", "--all", "--type"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
  r = RunCommand({testing::WeirBinary(), "schema", "check", "--help"});
  EXPECT_NE(r.out.find("--version"), std::string::npos);
}

TEST_F(SchemaCli, RegisterListShowCheck) {
  CommandResult r = Weir({"register", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plates-value  version 1  id 1  (PlateEvent)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plates.mirror-value  version 1  id 1  (PlateEvent)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("logs-value  version 1  id 2  (LogEvent)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("JSON Schema"), std::string::npos) << r.err;  // the visible note
  // Idempotent.
  r = Weir({"register", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plates-value  version 1  id 1"), std::string::npos) << r.out;

  r = Weir({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SUBJECT"), std::string::npos);
  for (const char* line : {"logs-value", "plates-value", "plates.mirror-value"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line;
  }
  EXPECT_NE(r.out.find("JSON"), std::string::npos);

  dir_.WriteFile("v2.avsc", kPlateNoDefault);
  r = Weir({"check", "plates-value", Path("v2.avsc")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("version 1 (backward): Plate.colour: reader_field_missing_default"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("1 incompatibility"), std::string::npos) << r.err;
  r = Weir({"register", "--topic", "plates", Path("v2.avsc")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("Plate.colour"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("v2.avsc"), std::string::npos) << r.err;

  dir_.WriteFile("v2ok.avsc",
                 std::string(kPlateNoDefault)
                     .insert(std::string(kPlateNoDefault).size() - 3, R"(,"default":"")"));
  r = Weir({"check", "--topic", "plates", Path("v2ok.avsc")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("compatible with plates-value under BACKWARD"), std::string::npos) << r.out;
  r = Weir({"register", "plates-value", Path("v2ok.avsc")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plates-value  version 2  id 3"), std::string::npos) << r.out;

  r = Weir({"show", "plates-value"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version: 2\nid: 3\ntype: AVRO\ncompatibility: BACKWARD"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"name\": \"colour\""), std::string::npos) << r.out;
  r = Weir({"show", "plates-value", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version: 1\nid: 1"), std::string::npos) << r.out;

  // The key subject, and an explicit subject with --type.
  dir_.WriteFile("key.schema", R"("string")");
  r = Weir({"register", "--topic", "plates", "--key", "--type", "avro", Path("key.schema")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plates-key  version 1  id 4"), std::string::npos) << r.out;
}

TEST_F(SchemaCli, BadInputExitsNonZeroSayingWhat) {
  CommandResult r = Weir({"register", "s", Path("missing.avsc")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.avsc"), std::string::npos) << r.err;

  dir_.WriteFile("broken.avsc", R"({"type": "record", "name": "R", "fields": [{"name": "a"}]})");
  r = Weir({"register", "s", Path("broken.avsc")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("broken.avsc"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid Avro schema"), std::string::npos) << r.err;

  dir_.WriteFile("broken.json", "{\"type\": ");
  r = Weir({"check", "s", Path("broken.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid JSON schema"), std::string::npos) << r.err;

  dir_.WriteFile("schema.txt", "\"int\"");
  r = Weir({"register", "s", Path("schema.txt")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--type"), std::string::npos) << r.err;

  r = Weir({"show", "no-such-subject"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-subject"), std::string::npos) << r.err;
  r = Weir({"show", "s", "zero"});
  EXPECT_EQ(r.exit_code, 2);
  r = Weir({"check", "no-such-subject", Path("schemas/plate.avsc"), "--version", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-subject"), std::string::npos) << r.err;
  r = Weir({"check", "s", Path("schemas/plate.avsc"), "--version", "newest"});
  EXPECT_EQ(r.exit_code, 2);
  r = Weir({"register"});
  EXPECT_EQ(r.exit_code, 2);
  r = Weir({"register", "--all", "s"});
  EXPECT_EQ(r.exit_code, 2);
  r = Weir({"register", "--key", "s", Path("schemas/plate.avsc")});
  EXPECT_EQ(r.exit_code, 2);
  r = Weir({"register", "--type", "xml", "s", Path("schemas/plate.avsc")});
  EXPECT_EQ(r.exit_code, 2);
  r = Weir({});
  EXPECT_EQ(r.exit_code, 2);

  // A damaged registry file is named.
  ASSERT_EQ(Weir({"register", "s", Path("schemas/plate.avsc")}).exit_code, 0);
  dir_.WriteFile("reg/subjects/s.json", "{oops");
  r = Weir({"show", "s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("subjects/s.json"), std::string::npos) << r.err;
}

// The same commands against a Confluent-API registry by url (weir's REST API
// on loopback, behind basic auth); the password is never printed.
TEST_F(SchemaCli, AgainstARegistryUrlWithBasicAuth) {
  registry::RegistryServer server(registry::CompatibilityLevel::kBackward, [](httplib::Server& s) {
    s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      // "weir:pa55word" in base64.
      if (req.get_header_value("Authorization") == "Basic d2VpcjpwYTU1d29yZA==") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 401;
      res.set_content(R"({"error_code": 401, "message": "Unauthorized"})", "application/json");
      return httplib::Server::HandlerResponse::Handled;
    });
  });
  auto config = [&](const std::string& password) {
    return dir_.WriteFile("url.yaml", fmt::format(R"(
registry:
  url: {}
  username: weir
  password: {}
)",
                                                  server.url(), password));
  };
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {testing::WeirBinary(), "-c", Path("url.yaml"), "schema"});
    return RunCommand(args, {}, std::chrono::seconds(60));
  };
  config("pa55word");
  CommandResult r = run({"register", "--topic", "plates", Path("schemas/plate.avsc")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plates-value  version 1  id 1"), std::string::npos) << r.out;
  r = run({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plates-value"), std::string::npos) << r.out;
  dir_.WriteFile("v2.avsc", kPlateNoDefault);
  r = run({"check", "plates-value", Path("v2.avsc")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("Plate.colour: reader_field_missing_default"), std::string::npos) << r.out;
  r = run({"register", "plates-value", Path("v2.avsc")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("409"), std::string::npos) << r.err;
  EXPECT_TRUE(server.registry().GetVersion("plates-value", 1).ok());

  config("wrong-secret");
  r = run({"list"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wrong-secret"), std::string::npos) << r.err;
}

TEST_F(SchemaCli, RegisterAllRefusesTwoSchemasOnOneTopic) {
  dir_.WriteFile("schemas/other.avsc", R"("string")");
  std::string config = dir_.WriteFile("two.yaml", R"(
registry: {folder: reg}
topics:
  t: {partitions: 1}
event_types:
  A: {schema: schemas/plate.avsc, topic: t}
  B: {schema: schemas/other.avsc, topic: t}
)");
  CommandResult r =
      RunCommand({testing::WeirBinary(), "-c", config, "schema", "register", "--all"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("topic t carries event types A"), std::string::npos) << r.err;
}

TEST_F(SchemaCli, TwoProcessesRegisteringAtOnceGetDistinctIds) {
  constexpr int kRounds = 6;
  std::vector<std::future<CommandResult>> runs;
  for (int i = 0; i < kRounds; ++i) {
    for (int p = 0; p < 2; ++p) {
      std::string file =
          dir_.WriteFile(fmt::format("f{}_{}.avsc", i, p),
                         fmt::format(R"({{"type":"fixed","name":"F{}_{}","size":1}})", i, p));
      std::string subject = fmt::format("s-{}-{}", i, p);
      runs.push_back(std::async(std::launch::async, [this, file, subject] {
        return Weir({"register", subject, "--type", "avro", file});
      }));
    }
  }
  std::set<std::string> ids;
  for (auto& f : runs) {
    CommandResult r = f.get();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    size_t at = r.out.find(" id ");
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_TRUE(ids.insert(r.out.substr(at + 4, r.out.find('\n') - at - 4)).second) << r.out;
  }
  EXPECT_EQ(ids.size(), size_t{2 * kRounds});
  auto reg = registry::OpenLocalRegistry(Path("reg"), registry::CompatibilityLevel::kBackward);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ((*reg)->ListSubjects()->size(), size_t{2 * kRounds});
}

}  // namespace
}  // namespace weir
