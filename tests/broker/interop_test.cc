// The embedded broker against independent Kafka clients: kcat and Debian's
// confluent-kafka (both librdkafka 2.0.2) and kafka-python 2.0.2, which has
// its own protocol implementation. Each test starts a broker in-process and
// runs kcat or a script from tests/broker/interop/ (see interop_common.py)
// against it; the scripts print JSON lines that are checked here.
//
// The Python clients import only under /usr/bin/python3; a test is skipped
// when kcat or the Python modules are not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "broker/broker_test_util.h"
#include "kafka/kafka_test_util.h"
#include "support/test_support.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"

namespace weir::broker::testing {
namespace {

using json = nlohmann::json;
using kafka::testing::MakeConsumer;
using kafka::testing::MakeProducer;
using kafka::testing::ProduceAll;
using std::chrono::seconds;
using weir::testing::CommandResult;
using weir::testing::HaveProgram;
using weir::testing::RunCommand;
using weir::testing::SourcePath;

constexpr const char* kPython = "/usr/bin/python3";
const std::vector<std::string> kCodecs = {"none", "gzip", "snappy", "lz4", "zstd"};

bool PythonClientsInstalled() {
  static const bool installed =
      RunCommand({kPython, "-c", "import confluent_kafka, kafka"}, "", seconds(30)).exit_code == 0;
  return installed;
}

#define REQUIRE_KCAT() \
  if (!HaveProgram("kcat")) GTEST_SKIP() << "kcat not installed"
#define REQUIRE_PYTHON_CLIENTS()                                        \
  if (!PythonClientsInstalled())                                        \
  GTEST_SKIP() << kPython                                               \
               << " cannot import confluent_kafka and kafka (Debian's " \
                  "python3-confluent-kafka and python3-kafka)"

std::string Describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
         "\n--- stdout ---\n" + r.out + "\n--- stderr ---\n" + r.err;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// The JSON objects a script printed, one a line.
std::vector<json> JsonLines(const std::string& out) {
  std::vector<json> objects;
  for (const std::string& line : Lines(out)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "not a JSON line: " << line;
    if (j.is_object()) objects.push_back(std::move(j));
  }
  return objects;
}

// The last line that has |key| (a script's result or summary).
json Find(const std::vector<json>& objects, const std::string& key) {
  for (auto it = objects.rbegin(); it != objects.rend(); ++it) {
    if (it->contains(key)) return *it;
  }
  ADD_FAILURE() << "no line with \"" << key << "\"";
  return json::object();
}

// Runs tests/broker/interop/|script| against |tb|; fails the test unless it
// exits 0. Returns its JSON lines.
std::vector<json> RunScript(const TestBroker& tb, const std::string& script,
                            std::vector<std::string> args) {
  std::vector<std::string> argv = {kPython, "-B", SourcePath("tests/broker/interop/" + script),
                                   "--bootstrap", tb.bootstrap()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv, "", seconds(120));
  EXPECT_EQ(r.exit_code, 0) << script << ": " << Describe(r);
  return r.exit_code == 0 ? JsonLines(r.out) : std::vector<json>{};
}

// kcat with |args| against |tb|. Never waits longer than a few seconds for
// metadata or a delivery.
CommandResult Kcat(const TestBroker& tb, std::vector<std::string> args,
                   const std::string& input = {}) {
  std::vector<std::string> argv = {"kcat", "-b", tb.bootstrap(), "-m", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input, seconds(60));
}

// "KEY=VALUE" for each record line a script printed, in the order printed.
std::vector<std::string> KeyValues(const std::vector<json>& lines) {
  std::vector<std::string> kv;
  for (const json& j : lines) {
    if (!j.contains("o")) continue;
    kv.push_back((j["k"].is_null() ? std::string() : j["k"].get<std::string>()) + "=" +
                 j["v"].get<std::string>());
  }
  return kv;
}

// The "KEY=VALUE" pairs the producer scripts send (interop_common.record_values,
// padded so that every codec really compresses).
std::vector<std::string> ScriptRecords(const std::string& prefix, int count) {
  std::vector<std::string> kv;
  for (int i = 0; i < count; ++i) {
    kv.push_back(prefix + "-k" + std::to_string(i) + "=" + prefix + "-v" + std::to_string(i) +
                 std::string(32, '.'));
  }
  return kv;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void Append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// Reads a single-partition topic from the beginning with kcat as KEY=VALUE.
std::vector<std::string> KcatReadAll(const TestBroker& tb, const std::string& topic) {
  CommandResult r = Kcat(tb, {"-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\\n"});
  EXPECT_EQ(r.exit_code, 0) << "kcat -C " << topic << ": " << Describe(r);
  return Lines(r.out);
}

// The group's committed offsets as weir's own consumer sees them.
std::map<int32_t, TopicPartitionOffset> WeirCommitted(const TestBroker& tb,
                                                      const std::string& group,
                                                      const std::string& topic, int partitions) {
  kafka::ConsumerOptions co;
  co.group_id = group;
  auto consumer = MakeConsumer(tb.ConsumerConfig(), co);
  std::map<int32_t, TopicPartitionOffset> out;
  if (!consumer) return out;
  std::vector<TopicPartition> tps;
  for (int32_t p = 0; p < partitions; ++p) tps.push_back({topic, Partition(p)});
  auto committed = consumer->Committed(tps, seconds(10));
  EXPECT_TRUE(committed.ok()) << committed.status().ToString();
  if (committed.ok()) {
    for (const TopicPartitionOffset& tpo : *committed) out[tpo.partition.value()] = tpo;
  }
  EXPECT_TRUE(consumer->Close().ok());
  return out;
}

// ---------------------------------------------------------------- kcat

TEST(KcatInteropTest, ListsTopicsAndRoundTripsEveryCodec) {
  REQUIRE_KCAT();
  TestBroker tb;
  for (const std::string& codec : kCodecs) tb.CreateTopic("kcat-" + codec, 1);
  tb.CreateTopic("kcat-three", 3);

  CommandResult listed = Kcat(tb, {"-L", "-J"});
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  json md = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(md.is_object()) << listed.out;
  std::map<std::string, size_t> topics;
  for (const json& t : md["topics"]) topics[t["topic"].get<std::string>()] = t["partitions"].size();
  for (const std::string& codec : kCodecs) EXPECT_EQ(topics["kcat-" + codec], 1u) << codec;
  EXPECT_EQ(topics["kcat-three"], 3u);
  EXPECT_EQ(topics.size(), kCodecs.size() + 1) << listed.out;
  ASSERT_EQ(md["brokers"].size(), 1u) << listed.out;
  EXPECT_EQ(md["brokers"][0]["id"], 1);
  EXPECT_EQ(md["brokers"][0]["name"], tb.bootstrap());

  for (const std::string& codec : kCodecs) {
    SCOPED_TRACE(codec);
    const std::string topic = "kcat-" + codec;
    std::string input;
    std::vector<std::string> expected;
    for (int i = 0; i < 200; ++i) {
      // Repetitive values so that the codecs really compress.
      const std::string key = "key-" + std::to_string(i);
      const std::string value = codec + " value " + std::to_string(i) + std::string(40, 'x');
      input += key + ":" + value + "\n";
      expected.push_back(key + "=" + value);
    }
    CommandResult produced = Kcat(tb, {"-P", "-t", topic, "-p", "0", "-K:", "-z", codec}, input);
    ASSERT_EQ(produced.exit_code, 0) << Describe(produced);
    EXPECT_EQ(KcatReadAll(tb, topic), expected);
  }
}

TEST(KcatInteropTest, ProduceToAMissingTopicFailsAndDoesNotCreateIt) {
  REQUIRE_KCAT();
  TestBroker tb;  // auto.create.topics.enable is off
  CommandResult produced =
      Kcat(tb,
           {"-P", "-t", "no-such-topic", "-p", "0", "-K:", "-X", "message.timeout.ms=5000", "-X",
            "topic.metadata.propagation.max.ms=1000"},
           "a:1\nb:2\n");
  EXPECT_NE(produced.exit_code, 0) << Describe(produced);
  EXPECT_FALSE(produced.timed_out);
  EXPECT_NE(produced.err.find("Unknown topic or partition"), std::string::npos)
      << Describe(produced);

  CommandResult listed = Kcat(tb, {"-L", "-J"});
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  json md = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(md.is_object()) << listed.out;
  EXPECT_TRUE(md["topics"].empty()) << listed.out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(tb.options().data_dir)) {
    EXPECT_EQ(entry.path().string().find("no-such-topic"), std::string::npos) << entry.path();
  }
}

// ---------------------------------------------------------- confluent-kafka

TEST(ConfluentKafkaInteropTest, IdempotentProducerWithEveryCodecThenGroupConsumerCommits) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("ck", 3);
  std::vector<std::string> expected;
  std::map<std::string, int64_t> end;  // partition -> next offset
  for (const std::string& codec : kCodecs) {
    SCOPED_TRACE(codec);
    auto out = RunScript(tb, "ck_produce.py",
                         {"--topic", "ck", "--codec", codec, "--prefix", codec, "--count", "60"});
    json result = Find(out, "delivered");
    EXPECT_EQ(result.value("delivered", 0), 60);
    for (const auto& [p, range] : result["partitions"].items()) {
      end[p] = std::max(end[p], range[1].get<int64_t>() + 1);
    }
    Append(expected, ScriptRecords(codec, 60));
  }
  auto out = RunScript(tb, "ck_consume.py", {"--topic", "ck", "--count", "300", "--group", "ckg"});
  EXPECT_EQ(Sorted(KeyValues(out)), Sorted(expected));
  json summary = Find(out, "consumed");
  for (const auto& [p, offset] : end)
    EXPECT_EQ(summary["committed"][p], offset) << "partition " << p;

  // weir's own consumer sees the same commits.
  auto committed = WeirCommitted(tb, "ckg", "ck", 3);
  for (const auto& [p, offset] : end) {
    EXPECT_EQ(committed[std::stoi(p)].offset, Offset(offset)) << "partition " << p;
  }
}

TEST(ConfluentKafkaInteropTest, AdminClientCreatesDescribesGrowsAndDeletesTopics) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  auto out = RunScript(tb, "ck_admin.py", {"--topic", "ck-admin"});
  std::set<std::string> steps;
  for (const json& j : out) steps.insert(j.value("step", ""));
  EXPECT_EQ(steps, (std::set<std::string>{"create_topics", "describe_configs", "create_partitions",
                                          "refuse_rf3", "refuse_existing", "delete_topics"}));
  json refused;
  for (const json& j : out) {
    if (j.value("step", "") == "refuse_rf3") refused = j;
  }
  EXPECT_NE(refused.value("message", "").find("replication factor 3"), std::string::npos)
      << refused.dump();

  // The broker agrees: only the refused topic's name was never created, and
  // the deleted one is gone.
  auto admin = tb.MakeAdmin();
  ASSERT_TRUE(admin);
  auto md = admin->Metadata(seconds(10));
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->FindTopic("ck-admin"), nullptr);
  EXPECT_EQ(md->FindTopic("ck-admin-rf3"), nullptr);
}

// ------------------------------------------------------------ kafka-python

TEST(KafkaPythonInteropTest, ProducerAndGroupConsumerRoundTripGzipAndNone) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("kp", 2);
  std::vector<std::string> expected;
  std::map<std::string, int64_t> end;
  for (const std::string codec : {"none", "gzip"}) {
    SCOPED_TRACE(codec);
    auto out = RunScript(tb, "kp_produce.py",
                         {"--topic", "kp", "--codec", codec, "--prefix", codec, "--count", "80"});
    json result = Find(out, "delivered");
    EXPECT_EQ(result.value("delivered", 0), 80);
    // kafka-python infers the broker version from ApiVersions.
    EXPECT_EQ(result["api_version"], json({2, 3, 0}));
    for (const auto& [p, range] : result["partitions"].items()) {
      end[p] = std::max(end[p], range[1].get<int64_t>() + 1);
    }
    Append(expected, ScriptRecords(codec, 80));
  }
  auto out = RunScript(tb, "kp_consume.py", {"--topic", "kp", "--count", "160", "--group", "kpg"});
  EXPECT_EQ(Sorted(KeyValues(out)), Sorted(expected));
  json summary = Find(out, "consumed");
  EXPECT_EQ(summary["api_version"], json({2, 3, 0}));
  for (const auto& [p, offset] : end)
    EXPECT_EQ(summary["committed"][p], offset) << "partition " << p;

  auto committed = WeirCommitted(tb, "kpg", "kp", 2);
  for (const auto& [p, offset] : end) {
    EXPECT_EQ(committed[std::stoi(p)].offset, Offset(offset)) << "partition " << p;
  }
}

TEST(KafkaPythonInteropTest, AdminClientCreatesListsDescribesAndDeletesTopics) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  auto out = RunScript(tb, "kp_admin.py", {"--topic", "kp-admin"});
  std::set<std::string> steps;
  for (const json& j : out) steps.insert(j.value("step", ""));
  EXPECT_EQ(steps, (std::set<std::string>{"connect", "create_topics", "list_topics",
                                          "describe_configs", "refuse_rf3", "delete_topics"}));
  if (!out.empty()) {
    EXPECT_EQ(out[0]["api_version"], json({2, 3, 0}));
  }
}

// ------------------------------------------------- one group, two libraries

class CrossClientGroupTest : public ::testing::TestWithParam<std::string> {};

// cross_group.py: a confluent-kafka and a kafka-python member share a
// 6-partition topic (range assignor), kafka-python's admin client describes
// the group, then GetParam() leaves and the other takes over.
TEST_P(CrossClientGroupTest, ConfluentAndKafkaPythonShareAGroupThenOneTakesOver) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("shared", 6);
  auto out = RunScript(tb, "cross_group.py",
                       {"--topic", "shared", "--group", "mixed", "--leaver", GetParam()});
  json shared;
  for (const json& j : out) {
    if (j.value("phase", "") == "shared") shared = j["assignment"];
  }
  ASSERT_TRUE(shared.is_object());
  EXPECT_FALSE(shared["ck"].empty());
  EXPECT_FALSE(shared["kp"].empty());
  json described;
  for (const json& j : out) {
    if (j.value("phase", "") == "described") described = j;
  }
  EXPECT_EQ(described.value("state", ""), "Stable");
  EXPECT_EQ(described["members"].size(), 2u) << described.dump();
  json summary = Find(out, "summary")["summary"];
  EXPECT_EQ(summary["distinct"], summary["produced"]);
}

// "kp-killed": the kafka-python member is killed with SIGKILL (no LeaveGroup),
// so the takeover waits for the broker to expire its 6 s session.
INSTANTIATE_TEST_SUITE_P(EitherLeaves, CrossClientGroupTest,
                         ::testing::Values("kp", "ck", "kp-killed"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n + "_leaves";
                         });

// ------------------------------------------------ offsets across the clients

// Produces |per_partition| records to each of |partitions| with weir's producer.
void FillPartitions(const TestBroker& tb, const std::string& topic, int partitions,
                    int per_partition) {
  auto producer = MakeProducer(tb.Config());
  ASSERT_TRUE(producer);
  for (int p = 0; p < partitions; ++p) {
    std::vector<std::string> values;
    for (int i = 0; i < per_partition; ++i) {
      values.push_back("p" + std::to_string(p) + "-" + std::to_string(i));
    }
    ProduceAll(*producer, topic, Partition(p), values);
  }
}

TEST(OffsetsInteropTest, KafkaPythonCommitsAndConfluentWeirAndKcatResumeFromThem) {
  REQUIRE_KCAT();
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("offsets", 3);
  FillPartitions(tb, "offsets", 3, 10);

  // kafka-python commits explicit OffsetAndMetadata (as a non-member).
  auto out = RunScript(tb, "kp_offsets.py",
                       {"--topic", "offsets", "--group", "handover", "--commit",
                        "0=4:from-kafka-python,1=0:,2=10:at-end"});
  json kp = Find(out, "committed")["committed"];
  EXPECT_EQ(kp["0"], json({{"offset", 4}, {"metadata", "from-kafka-python"}}));

  // confluent-kafka and weir read them.
  out = RunScript(tb, "ck_offsets.py", {"--topic", "offsets", "--group", "handover"});
  json ck = Find(out, "committed")["committed"];
  EXPECT_EQ(ck["0"]["offset"], 4);
  EXPECT_EQ(ck["1"]["offset"], 0);
  EXPECT_EQ(ck["2"]["offset"], 10);
  auto weir_committed = WeirCommitted(tb, "handover", "offsets", 3);
  EXPECT_EQ(weir_committed[0].offset, Offset(4));
  EXPECT_EQ(weir_committed[0].metadata, "from-kafka-python");
  EXPECT_EQ(weir_committed[1].offset, Offset(0));
  EXPECT_EQ(weir_committed[2].offset, Offset(10));
  EXPECT_EQ(weir_committed[2].metadata, "at-end");

  // kcat's balanced consumer resumes from them (and commits the end on exit).
  CommandResult consumed = Kcat(
      tb, {"-G", "handover", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000",
           "-X", "fetch.wait.max.ms=100", "-e", "-q", "-f", "%p %o %s\\n", "offsets"});
  ASSERT_EQ(consumed.exit_code, 0) << Describe(consumed);
  std::vector<std::string> expected;
  for (int i = 4; i < 10; ++i)
    expected.push_back("0 " + std::to_string(i) + " p0-" + std::to_string(i));
  for (int i = 0; i < 10; ++i)
    expected.push_back("1 " + std::to_string(i) + " p1-" + std::to_string(i));
  EXPECT_EQ(Sorted(Lines(consumed.out)), Sorted(expected));

  // The other way round: kcat's commits, read by kafka-python and confluent-kafka.
  out = RunScript(tb, "kp_offsets.py", {"--topic", "offsets", "--group", "handover"});
  kp = Find(out, "committed")["committed"];
  for (const std::string p : {"0", "1", "2"}) EXPECT_EQ(kp[p]["offset"], 10) << "partition " << p;
  out = RunScript(tb, "ck_offsets.py", {"--topic", "offsets", "--group", "handover"});
  ck = Find(out, "committed")["committed"];
  for (const std::string p : {"0", "1", "2"}) EXPECT_EQ(ck[p]["offset"], 10) << "partition " << p;
}

TEST(OffsetsInteropTest, ConfluentCommitsAndKafkaPythonAndWeirReadThem) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("offsets", 3);
  FillPartitions(tb, "offsets", 3, 5);

  RunScript(tb, "ck_offsets.py", {"--topic", "offsets", "--group", "back", "--commit", "0=2,2=5"});
  auto out = RunScript(tb, "kp_offsets.py", {"--topic", "offsets", "--group", "back"});
  json kp = Find(out, "committed")["committed"];
  EXPECT_EQ(kp["0"]["offset"], 2);
  EXPECT_EQ(kp["1"]["offset"], -1);  // never committed
  EXPECT_EQ(kp["2"]["offset"], 5);
  auto weir_committed = WeirCommitted(tb, "back", "offsets", 3);
  EXPECT_EQ(weir_committed[0].offset, Offset(2));
  EXPECT_EQ(weir_committed[1].offset, kOffsetInvalid);
  EXPECT_EQ(weir_committed[2].offset, Offset(5));

  // kafka-python, as a group member, resumes from confluent-kafka's commits:
  // 3 records of partition 0 and 5 of partition 1 are left.
  out = RunScript(tb, "kp_consume.py", {"--topic", "offsets", "--group", "back", "--count", "8"});
  std::vector<std::string> read;
  for (const json& j : out) {
    if (j.contains("o")) read.push_back(j["v"].get<std::string>());
  }
  EXPECT_EQ(Sorted(read), Sorted({"p0-2", "p0-3", "p0-4", "p1-0", "p1-1", "p1-2", "p1-3", "p1-4"}));
}

// ListOffsets by timestamp (kafka-python and confluent-kafka offsets_for_times).
// Uncompressed batches are answered exactly, per record. Inside a compressed
// multi-record batch the broker answers with the batch's base offset
// (documented in partition_log.h; it never decompresses); across batches
// the answer is exact.
TEST(OffsetsInteropTest, OffsetsForTimesFromBothPythonClients) {
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  for (const std::string codec : {"none", "lz4"}) {
    SCOPED_TRACE(codec);
    tb.CreateTopic("times-" + codec, 1);
    auto out =
        RunScript(tb, "offsets_for_times.py", {"--topic", "times-" + codec, "--codec", codec});
    int exact_answers = 0;
    for (const json& j : out) {
      bool must_be_exact = codec == "none" || j["exact"] >= 10 || j["exact"] == -1;
      if (must_be_exact) {
        EXPECT_EQ(j["offset"], j["exact"]) << j.dump();
        ++exact_answers;
      }
    }
    EXPECT_EQ(exact_answers, codec == "none" ? 14 : 8);
  }
}

// ---------------------------------------- every codec, every capable reader

TEST(CodecMatrixInteropTest, ConfluentWritesEveryCodecKcatAndKafkaPythonReadIt) {
  REQUIRE_KCAT();
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("from-ck", 1);
  tb.CreateTopic("from-ck-gzip", 1);  // what kafka-python can decompress
  std::vector<std::string> expected;
  for (const std::string& codec : kCodecs) {
    SCOPED_TRACE(codec);
    RunScript(tb, "ck_produce.py",
              {"--topic", "from-ck", "--codec", codec, "--prefix", codec, "--count", "40"});
    Append(expected, ScriptRecords(codec, 40));
  }
  // One partition, one producer run after the other: the order is exact.
  EXPECT_EQ(KcatReadAll(tb, "from-ck"), expected);

  expected.clear();
  for (const std::string codec : {"gzip", "none"}) {
    RunScript(
        tb, "ck_produce.py",
        {"--topic", "from-ck-gzip", "--codec", codec, "--prefix", "ck-" + codec, "--count", "40"});
    Append(expected, ScriptRecords("ck-" + codec, 40));
  }
  auto out = RunScript(tb, "kp_consume.py", {"--topic", "from-ck-gzip", "--count", "80"});
  EXPECT_EQ(KeyValues(out), expected);
  EXPECT_EQ(KcatReadAll(tb, "from-ck-gzip"), expected);
}

TEST(CodecMatrixInteropTest, KafkaPythonWritesGzipConfluentAndKcatReadIt) {
  REQUIRE_KCAT();
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("from-kp", 1);
  std::vector<std::string> expected;
  for (const std::string codec : {"gzip", "none"}) {
    RunScript(tb, "kp_produce.py",
              {"--topic", "from-kp", "--codec", codec, "--prefix", "kp-" + codec, "--count", "50"});
    Append(expected, ScriptRecords("kp-" + codec, 50));
  }
  auto out = RunScript(tb, "ck_consume.py", {"--topic", "from-kp", "--count", "100"});
  EXPECT_EQ(KeyValues(out), expected);
  EXPECT_EQ(KcatReadAll(tb, "from-kp"), expected);
}

TEST(CodecMatrixInteropTest, KcatWritesEveryCodecConfluentAndKafkaPythonReadIt) {
  REQUIRE_KCAT();
  REQUIRE_PYTHON_CLIENTS();
  TestBroker tb;
  tb.CreateTopic("from-kcat", 1);
  tb.CreateTopic("from-kcat-gzip", 1);
  std::vector<std::string> expected;
  std::vector<std::string> expected_gzip;
  for (const std::string& codec : kCodecs) {
    SCOPED_TRACE(codec);
    std::string input;
    std::vector<std::string> records;
    for (int i = 0; i < 40; ++i) {
      input += "kcat-" + codec + "-k" + std::to_string(i) + ":" + codec + " record " +
               std::to_string(i) + " " + std::string(30, 'y') + "\n";
      records.push_back("kcat-" + codec + "-k" + std::to_string(i) + "=" + codec + " record " +
                        std::to_string(i) + " " + std::string(30, 'y'));
    }
    CommandResult produced =
        Kcat(tb, {"-P", "-t", "from-kcat", "-p", "0", "-K:", "-z", codec}, input);
    ASSERT_EQ(produced.exit_code, 0) << Describe(produced);
    Append(expected, records);
    if (codec == "gzip" || codec == "none") {
      produced = Kcat(tb, {"-P", "-t", "from-kcat-gzip", "-p", "0", "-K:", "-z", codec}, input);
      ASSERT_EQ(produced.exit_code, 0) << Describe(produced);
      Append(expected_gzip, records);
    }
  }
  auto out = RunScript(tb, "ck_consume.py", {"--topic", "from-kcat", "--count", "200"});
  EXPECT_EQ(KeyValues(out), expected);
  out = RunScript(tb, "kp_consume.py", {"--topic", "from-kcat-gzip", "--count", "80"});
  EXPECT_EQ(KeyValues(out), expected_gzip);
}

}  // namespace
}  // namespace weir::broker::testing
