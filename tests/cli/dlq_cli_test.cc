// `weir dlq list|show|stats|replay|purge` end to end: the built binary
// against an embedded broker in this test process (-b), on DLQ topics filled
// with weir dead letters (MakeDeadLetter + DeadLetterHeaders), a Spring
// Kafka and a Kafka Connect dead letter built by hand, and one record that
// is not a dead letter.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "broker/broker_test_util.h"
#include "support/test_support.h"
#include "weir/consume/dead_letter.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/registry/registry.h"
#include "weir/schema/avro.h"

namespace weir {
namespace {

using consume::DeadLetter;
using nlohmann::json;
using std::chrono::seconds;
using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;

const std::string kBinary("\x00\xff\x01\x80payload\x00", 12);
constexpr int64_t kHourMs = 3600 * 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string JavaInt(int32_t v) {
  std::string out(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xFF);
  return out;
}

std::string JavaLong(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xFF);
  return out;
}

// The DLQ holds, on orders.dlq:
//   0:0  weir   SCHEMA_VALIDATION   orders:1:10    order-service    key cust-1, binary value
//   0:1  weir   PROCESSING_FAILURE  orders:2:11    order-service    null key, replayed 3 times
//   0:2  not a dead letter
//   0:3  weir   BUSINESS_LOGIC      orders:0:12    order-service    key cust-3, Avro value
//   1:0  weir   TIMEOUT             payments:0:5   payment-service  key cust-2
//   1:1  spring UNKNOWN             orders:0:20    spring-group     key cust-4
//   1:2  kafka-connect UNKNOWN      payments:0:6   connect-sink     key cust-5
// dead-lettered 3 h, 2.5 h, -, 2 h, 1 h, 30 min and 10 min ago.
class DlqCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.WriteFile("weir.yaml",
                             "topics:\n"
                             "  orders: {partitions: 3}\n"
                             "  payments: {partitions: 1}\n"
                             "  orders.dlq: {partitions: 2}\n"
                             "  other.dlq: {partitions: 1}\n"
                             "consumer_groups:\n"
                             "  order-service:\n"
                             "    topics: [orders]\n"
                             "    dlq: orders.dlq\n"
                             "  payment-service:\n"
                             "    topics: [payments]\n"
                             "    dlq: orders.dlq\n");
    for (const auto& [topic, partitions] : std::vector<std::pair<std::string, int>>{
             {"orders", 3}, {"payments", 1}, {"orders.dlq", 2}, {"other.dlq", 1}}) {
      broker_.CreateTopic(topic, partitions);
      if (HasFatalFailure()) return;
    }
    auto producer = kafka::Producer::Create(broker_.Config());
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(producer).value();
    now_ = NowMs();

    DeadLetter a =
        Weir("orders", 1, 10, "cust-1", kBinary,
             {Header{"trace", "abc"}, Header{"nothing", std::nullopt}}, "order-service",
             ErrorClass::kSchemaValidation, "total: expected a number\nat /total", 3 * kHourMs);
    a.error_context = "Validate()\nHandle()";
    a.metadata = {{"handler", "orders"}};
    Produce(0, a);
    Produce(0, Weir("orders", 2, 11, std::nullopt, R"({"id":2})",
                    {Header{std::string(consume::kReplayCountHeader), "3"}}, "order-service",
                    ErrorClass::kProcessingFailure, "db down", 150 * 60 * 1000));
    ProduceRaw("orders.dlq", 0, "junk", "not a dead letter", {}, 0);
    Produce(0, Weir("orders", 0, 12, "cust-3", AvroOrder(), {}, "order-service",
                    ErrorClass::kBusinessLogic, "unknown customer", 2 * kHourMs));
    Produce(1, Weir("payments", 0, 5, "cust-2", "pay 5", {}, "payment-service",
                    ErrorClass::kTimeout, "timed out after 30s", kHourMs));
    ProduceRaw("orders.dlq", 1, "cust-4", "spring value",
               {Header{"app", "billing"},
                Header{"kafka_dlt-exception-fqcn", "java.lang.IllegalStateException"},
                Header{"kafka_dlt-exception-message", "spring failed"},
                Header{"kafka_dlt-original-topic", "orders"},
                Header{"kafka_dlt-original-partition", JavaInt(0)},
                Header{"kafka_dlt-original-offset", JavaLong(20)},
                Header{"kafka_dlt-original-consumer-group", "spring-group"}},
               now_ - 30 * 60 * 1000);
    ProduceRaw(
        "orders.dlq", 1, "cust-5", "connect value",
        {Header{"__connect.errors.topic", "payments"}, Header{"__connect.errors.partition", "0"},
         Header{"__connect.errors.offset", "6"}, Header{"__connect.errors.connector.name", "sink"},
         Header{"__connect.errors.exception.class.name", "DataException"},
         Header{"__connect.errors.exception.message", "connect failed"}},
        now_ - 10 * 60 * 1000);
  }

  // A weir dead letter of orders or payments, dead-lettered |age_ms| ago.
  DeadLetter Weir(const std::string& topic, int32_t partition, int64_t offset,
                  std::optional<std::string> key, std::optional<std::string> value,
                  std::vector<Header> headers, const std::string& group, ErrorClass type,
                  const std::string& message, int64_t age_ms) {
    Record original = Record::Owned(topic, Partition(partition), Offset(offset),
                                    Timestamp{now_ - age_ms - 1000, TimestampType::kCreateTime},
                                    std::move(key), std::move(value), std::move(headers));
    DeadLetter dl = consume::MakeDeadLetter(original, group, type, message, "", 2);
    dl.timestamp_ms = now_ - age_ms;
    return dl;
  }

  // An order as the Publisher would write it: Avro in the Confluent frame,
  // its schema in the registry beside weir.yaml.
  std::string AvroOrder() {
    const std::string avsc =
        R"({"type":"record","name":"Order","fields":[{"name":"id","type":"int"},)"
        R"({"name":"customer","type":"string"}]})";
    auto reg = registry::OpenLocalRegistry(dir_.path() + "/.weir/registry",
                                           registry::CompatibilityLevel::kBackward);
    EXPECT_TRUE(reg.ok()) << reg.status().ToString();
    if (!reg.ok()) return {};
    auto registered =
        (*reg)->Register("orders-value", registry::Schema{registry::SchemaType::kAvro, avsc});
    EXPECT_TRUE(registered.ok()) << registered.status().ToString();
    auto schema = schema::AvroSchema::Parse(avsc);
    auto datum = schema::JsonToAvro(*schema, R"({"id":12,"customer":"cust-3"})");
    auto bytes = schema::EncodeBinary(*schema, *datum);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    return schema::WrapConfluent(registered->id, *bytes);
  }

  void Produce(int32_t partition, const DeadLetter& dl) {
    ProduceRaw("orders.dlq", partition, dl.key, dl.value, consume::DeadLetterHeaders(dl), 0);
  }

  void ProduceRaw(const std::string& topic, int32_t partition, std::optional<std::string> key,
                  std::optional<std::string> value, const std::vector<Header>& headers,
                  int64_t timestamp_ms) {
    std::vector<HeaderView> views;
    for (const Header& h : headers) {
      views.push_back(
          HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    kafka::ProduceRequest req;
    req.topic = topic;
    req.partition = Partition(partition);
    if (key) req.key = *key;
    if (value) req.value = *value;
    req.headers = views;
    req.timestamp_ms = timestamp_ms;
    kafka::DeliveryReport r = producer_->Send(req).get();
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }

  CommandResult Dlq(std::vector<std::string> args) {
    args.insert(args.begin(), {WeirBinary(), "-b", broker_.bootstrap(), "-c", config_, "dlq"});
    return RunCommand(args, {}, std::chrono::seconds(120));
  }

  // Every record of |topic| [partition] below its current end, read without
  // a group.
  std::vector<Record> ReadPartition(const std::string& topic, int32_t partition) {
    auto consumer = kafka::Consumer::Create(broker_.ConsumerConfig(), kafka::ConsumerOptions{});
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    if (!consumer.ok()) return {};
    TopicPartition tp{topic, Partition(partition)};
    auto wm = (*consumer)->QueryWatermarks(tp, seconds(10));
    EXPECT_TRUE(wm.ok()) << wm.status().ToString();
    std::vector<Record> out;
    if (!wm.ok() || wm->high <= wm->low) return out;
    EXPECT_TRUE((*consumer)->Assign({{topic, tp.partition, kOffsetBeginning, {}}}).ok());
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while ((out.empty() || out.back().offset().value() + 1 < wm->high.value()) &&
           std::chrono::steady_clock::now() < deadline) {
      auto batch = (*consumer)->Poll(std::chrono::milliseconds(100));
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok()) break;
      for (Record& r : *batch) out.push_back(r.Clone());
    }
    EXPECT_TRUE((*consumer)->Close().ok());
    return out;
  }

  std::pair<int64_t, int64_t> Watermarks(const std::string& topic, int32_t partition) {
    auto wm = broker_.MakeAdmin()->ListOffsets({topic, Partition(partition)}, seconds(10));
    EXPECT_TRUE(wm.ok()) << wm.status().ToString();
    return wm.ok() ? std::make_pair(wm->first.value(), wm->second.value())
                   : std::make_pair<int64_t, int64_t>(-1, -1);
  }

  testing::TempDir dir_;
  broker::testing::TestBroker broker_;
  std::string config_;
  std::unique_ptr<kafka::Producer> producer_;
  int64_t now_ = 0;
};

// The DLQ positions of the listed dead letters, in the order printed.
std::set<std::string> Positions(const std::string& out) {
  std::set<std::string> positions;
  for (const std::string& line : Lines(out)) positions.insert(line.substr(0, line.find('\t')));
  return positions;
}

TEST_F(DlqCli, ListPrintsOneLinePerDeadLetter) {
  CommandResult r = Dlq({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Positions(r.out), (std::set<std::string>{"0:0", "0:1", "0:3", "1:0", "1:1", "1:2"}))
      << r.out;
  const std::string a = consume::FormatDlqTimestamp(now_ - 3 * kHourMs);
  EXPECT_NE(r.out.find("0:0\t" + a +
                       "\tSCHEMA_VALIDATION\torders:1:10\torder-service\tcust-1\ttotal: expected "
                       "a number\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\tPROCESSING_FAILURE\torders:2:11\torder-service\t-\tdb down\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\tUNKNOWN\torders:0:20\tspring-group\tcust-4\tspring failed\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\tUNKNOWN\tpayments:0:6\tconnect-sink\tcust-5\tconnect failed\n"),
            std::string::npos)
      << r.out;
  // The record that is not a dead letter is named, and counted.
  EXPECT_NE(r.err.find("orders.dlq [0] offset 2: not a dead letter"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("6 dead letter(s) of 7 record(s) read from orders.dlq (1 not dead "
                       "letters)"),
            std::string::npos)
      << r.err;
}

TEST_F(DlqCli, ListFilters) {
  struct Case {
    std::vector<std::string> args;
    std::set<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {{"--error-type", "TIMEOUT"}, {"1:0"}},
           {{"--error-type", "UNKNOWN", "--error-type", "BUSINESS_LOGIC"}, {"0:3", "1:1", "1:2"}},
           {{"--topic", "payments"}, {"1:0", "1:2"}},
           {{"--group", "order-service"}, {"0:0", "0:1", "0:3"}},
           {{"--group", "connect-sink", "--group", "spring-group"}, {"1:1", "1:2"}},
           {{"--key", "cust-2"}, {"1:0"}},
           {{"--since", "100m"}, {"1:0", "1:1", "1:2"}},
           {{"--until", "140m"}, {"0:0", "0:1"}},
           {{"--since", consume::FormatDlqTimestamp(now_ - 3 * kHourMs), "--until", "90m"},
            {"0:0", "0:1", "0:3"}},
           {{"--topic", "orders", "--error-type", "UNKNOWN"}, {"1:1"}},
           {{"--key", "nobody"}, {}},
       }) {
    std::vector<std::string> args = {"list"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult r = Dlq(args);
    ASSERT_EQ(r.exit_code, 0) << c.args[0] << ": " << r.err;
    EXPECT_EQ(Positions(r.out), c.want) << c.args[0] << " " << c.args[1] << ":\n" << r.out;
  }
  CommandResult r = Dlq({"list", "--limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 2u) << r.out;
}

TEST_F(DlqCli, ListJsonIsTheDlqMessageWithItsPlace) {
  CommandResult r = Dlq({"list", "--json", "--group", "order-service"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, json> by_position;
  for (const std::string& line : Lines(r.out)) {
    json j = json::parse(line);
    by_position[std::to_string(j["dlq_partition"].get<int>()) + ":" +
                std::to_string(j["dlq_offset"].get<int64_t>())] = j;
  }
  ASSERT_EQ(by_position.size(), 3u) << r.out;
  const json& a = by_position["0:0"];
  EXPECT_EQ(a["dlq_topic"], "orders.dlq");
  EXPECT_EQ(a["original_topic"], "orders");
  EXPECT_EQ(a["original_partition"], 1);
  EXPECT_EQ(a["original_offset"], 10);
  EXPECT_EQ(a["original_key"], "cust-1");
  EXPECT_EQ(a["original_message"], "base64:AP8BgHBheWxvYWQA");
  EXPECT_EQ(a["error_type"], "SCHEMA_VALIDATION");
  EXPECT_EQ(a["error_stack_trace"], "Validate()\nHandle()");
  EXPECT_EQ(a["retry_count"], 2);
  EXPECT_EQ(a["metadata"], json({{"handler", "orders"}}));
  EXPECT_EQ(a["dialect"], "weir");
  EXPECT_EQ(a["timestamp"], consume::FormatDlqTimestamp(now_ - 3 * kHourMs));
  EXPECT_TRUE(by_position["0:1"]["original_key"].is_null());
  EXPECT_EQ(by_position["0:1"]["replay_count"], 3);
}

TEST_F(DlqCli, SeveralDlqTopicsGetATopicColumn) {
  CommandResult r = Dlq({"list", "--dlq", "orders.dlq", "--dlq", "other.dlq", "--key", "cust-2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("orders.dlq\t1:0\t", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("read from orders.dlq, other.dlq"), std::string::npos) << r.err;
}

TEST_F(DlqCli, ShowPrintsOneDeadLetterInFull) {
  CommandResult r = Dlq({"show", "0:0"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* want :
       {"dead letter orders.dlq 0:0\n", "dialect:          weir\n",
        "original:         orders [1] offset 10\n", "consumer group:   order-service\n",
        "error type:       SCHEMA_VALIDATION\n", "retries:          2\n", "replays:          0\n",
        "key:              cust-1\n", "error message:\n  total: expected a number\n  at /total\n",
        "metadata:\n  handler: orders\n", "original headers:\n  trace: abc\n  nothing: (null)\n",
        "error context:\n  Validate()\n  Handle()\n", "value: binary, 12 bytes:\n",
        "  00000000  00 ff 01 80 70 61 79 6c  6f 61 64 00"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }

  // An Avro value is decoded with the registry beside weir.yaml.
  r = Dlq({"show", "--partition", "0", "--offset", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("value: Avro, schema id "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("customer": "cust-3")"), std::string::npos) << r.out;

  // A text value; a Spring dead letter's metadata.
  r = Dlq({"show", "1:0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("value: text, 5 bytes:\n  pay 5\n"), std::string::npos) << r.out;
  r = Dlq({"show", "1:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dialect:          spring\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  exception.class: java.lang.IllegalStateException\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("original headers:\n  app: billing\nerror context: none\n"),
            std::string::npos)
      << r.out;

  r = Dlq({"show", "1:2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["dialect"], "kafka-connect");
  EXPECT_EQ(j["consumer_group_id"], "connect-sink");
  EXPECT_EQ(j["dlq_offset"], 2);
  EXPECT_EQ(j["original_headers"], json::array());
}

TEST_F(DlqCli, ShowRefusesWhatIsNotThere) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{"show", "0:99"}, 2, "0:99: orders.dlq [0] holds offsets 0-3"},
           {{"show", "5:0"}, 2, "5:0: orders.dlq has 2 partition(s)"},
           {{"show", "zero"}, 2, "zero: expected PARTITION:OFFSET"},
           {{"show"}, 2, "give PARTITION:OFFSET"},
           {{"show", "0:1", "--partition", "0", "--offset", "1"}, 2, "not both"},
           {{"show", "0:0", "--dlq", "orders.dlq", "--dlq", "other.dlq"},
            2,
            "several DLQ topics (orders.dlq, other.dlq): choose one with --dlq"},
           {{"show", "0:0", "--dlq", "other.dlq"}, 2, "0:0: other.dlq [0] is empty"},
           {{"show", "0:2"}, 1, "orders.dlq [0] offset 2: not a dead letter"},
       }) {
    CommandResult r = Dlq(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args.back() << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST_F(DlqCli, StatsCountsByTypeTopicAndGroup) {
  CommandResult r = Dlq({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("orders.dlq: 6 dead letter(s); oldest " +
                            consume::FormatDlqTimestamp(now_ - 3 * kHourMs),
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("; 1 record(s) not dead letters\n"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("by error type:\n"
                                                  "  SCHEMA_VALIDATION +1\n"
                                                  "  PROCESSING_FAILURE +1\n"
                                                  "  TIMEOUT +1\n"
                                                  "  BUSINESS_LOGIC +1\n"
                                                  "  UNKNOWN +2\n")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("by original topic:\n"
                                                  "  orders +4\n"
                                                  "  payments +2\n")))
      << r.out;

  r = Dlq({"stats", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["total"], 6);
  EXPECT_EQ(j["unreadable"], 1);
  EXPECT_EQ(j["by_error_type"]["UNKNOWN"], 2);
  EXPECT_EQ(j["by_topic"], json({{"orders", 4}, {"payments", 2}}));
  EXPECT_EQ(j["by_group"], json({{"order-service", 3},
                                 {"payment-service", 1},
                                 {"spring-group", 1},
                                 {"connect-sink", 1}}));
  EXPECT_EQ(j["oldest_timestamp"], consume::FormatDlqTimestamp(now_ - 3 * kHourMs));
  EXPECT_GE(j["oldest_age_seconds"].get<int64_t>(), 3 * 3600);

  r = Dlq({"stats", "--json", "--topic", "payments"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["total"], 2);
  EXPECT_EQ(j["oldest_timestamp"], consume::FormatDlqTimestamp(now_ - kHourMs));
}

TEST_F(DlqCli, ReplayRepublishesTheOriginalRecord) {
  // A dry run sends nothing.
  CommandResult r = Dlq({"replay", "--group", "order-service", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("would replay 0:0 -> orders [1]: key cust-1, 12 byte(s), 3 header(s), "
                       "weir.replay.count 1\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("skip 0:1: replayed 3 time(s) already (--max-replays 3)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dry run: 2 would be replayed, nothing sent, 1 skipped"), std::string::npos)
      << r.out;
  for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(Watermarks("orders", p).second, 0) << p;

  r = Dlq({"replay", "--group", "order-service"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("replayed 0:0 -> orders:1:0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replayed 0:3 -> orders:0:0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("weir dlq replay: 2 replayed, 1 skipped (replayed 3 time(s) already), 1 "
                       "not dead letters, 0 failed; DLQ offsets read: orders.dlq [0] 0-3, "
                       "orders.dlq [1] 0-2\n"),
            std::string::npos)
      << r.out;

  // The original key, value bytes and headers, with the replay count.
  std::vector<Record> replayed = ReadPartition("orders", 1);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].key(), std::optional<std::string_view>("cust-1"));
  EXPECT_EQ(replayed[0].value(), std::optional<std::string_view>(kBinary));
  ASSERT_EQ(replayed[0].headers().size(), 3u);
  EXPECT_EQ(replayed[0].headers()[0].key, "trace");
  EXPECT_EQ(replayed[0].headers()[0].value, std::optional<std::string_view>("abc"));
  EXPECT_EQ(replayed[0].headers()[1].key, "nothing");
  EXPECT_FALSE(replayed[0].headers()[1].value.has_value());
  EXPECT_EQ(replayed[0].headers()[2].key, consume::kReplayCountHeader);
  EXPECT_EQ(replayed[0].headers()[2].value, std::optional<std::string_view>("1"));

  // Replaying again: the count in the DLQ record is still 0, so the copy
  // says 1 again; a record replayed 3 times is replayed with a higher limit,
  // its count replaced, not repeated.
  r = Dlq({"replay", "--group", "order-service", "--error-type", "PROCESSING_FAILURE",
           "--max-replays", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("weir dlq replay: 1 replayed, 0 skipped"), std::string::npos) << r.out;
  replayed = ReadPartition("orders", 2);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_FALSE(replayed[0].key().has_value());
  EXPECT_EQ(replayed[0].value(), std::optional<std::string_view>(R"({"id":2})"));
  ASSERT_EQ(replayed[0].headers().size(), 1u);
  EXPECT_EQ(replayed[0].headers()[0].value, std::optional<std::string_view>("4"));
}

TEST_F(DlqCli, ReplayReadsSpringAndConnectDeadLettersToo) {
  CommandResult r = Dlq({"replay", "--error-type", "UNKNOWN"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("replayed 1:1 -> orders:0:0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replayed 1:2 -> payments:0:0\n"), std::string::npos) << r.out;
  std::vector<Record> spring = ReadPartition("orders", 0);
  ASSERT_EQ(spring.size(), 1u);
  EXPECT_EQ(spring[0].key(), std::optional<std::string_view>("cust-4"));
  EXPECT_EQ(spring[0].value(), std::optional<std::string_view>("spring value"));
  // Spring's kafka_dlt-* headers are gone; the record's own stays.
  ASSERT_EQ(spring[0].headers().size(), 2u);
  EXPECT_EQ(spring[0].headers()[0].key, "app");
  EXPECT_EQ(spring[0].headers()[1].key, consume::kReplayCountHeader);
  std::vector<Record> connect = ReadPartition("payments", 0);
  ASSERT_EQ(connect.size(), 1u);
  EXPECT_EQ(connect[0].value(), std::optional<std::string_view>("connect value"));
  ASSERT_EQ(connect[0].headers().size(), 1u);
  EXPECT_EQ(connect[0].headers()[0].key, consume::kReplayCountHeader);
}

TEST_F(DlqCli, ReplayIntoTheDlqItselfStopsAtTheStartingEnd) {
  // Every dead letter goes back to orders.dlq: the replay must not read
  // what it writes, or it would never end.
  CommandResult r = Dlq({"replay", "--to", "orders.dlq", "--max-replays", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("weir dlq replay: 6 replayed, 0 skipped (replayed 10 time(s) already), 1 "
                       "not dead letters, 0 failed; DLQ offsets read: orders.dlq [0] 0-3, "
                       "orders.dlq [1] 0-2\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Watermarks("orders.dlq", 0).second + Watermarks("orders.dlq", 1).second, 13);
}

TEST_F(DlqCli, ReplayToAMissingTopicExitsTwo) {
  CommandResult r = Dlq({"replay", "--to", "no-such-topic"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--to no-such-topic: the topic does not exist"), std::string::npos) << r.err;
}

TEST_F(DlqCli, PurgeDeletesBelowAnOffsetOrEverything) {
  CommandResult r = Dlq({"purge", "--before", "0:2"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("add --yes"), std::string::npos) << r.err;

  r = Dlq({"purge", "--before", "0:2", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("would delete orders.dlq [0] offsets 0-1 (2 record(s)); low watermark 0 "
                       "-> 2\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Watermarks("orders.dlq", 0).first, 0);

  r = Dlq({"purge", "--before", "0:2", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "orders.dlq [0]: low watermark now 2\n");
  EXPECT_EQ(Watermarks("orders.dlq", 0), (std::pair<int64_t, int64_t>(2, 4)));
  r = Dlq({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Positions(r.out), (std::set<std::string>{"0:3", "1:0", "1:1", "1:2"})) << r.out;

  r = Dlq({"purge", "--all", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "orders.dlq [0]: low watermark now 4\n"
            "orders.dlq [1]: low watermark now 3\n");
  r = Dlq({"stats", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["total"], 0);
  EXPECT_TRUE(json::parse(r.out)["oldest_timestamp"].is_null());
}

TEST_F(DlqCli, BadArgumentsExitTwoNamingTheArgument) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{"list", "--error-type", "BOGUS"}, "--error-type BOGUS: expected SCHEMA_VALIDATION"},
           {{"list", "--since", "yesterday"}, "--since yesterday: expected an ISO-8601 time"},
           {{"stats", "--until", "2x"}, "--until 2x"},
           {{"list", "--since", "1h", "--until", "2h"}, "--since 1h is after --until 2h"},
           {{"list", "--limit", "0"}, "--limit 0: expected a positive number"},
           {{"list", "--dlq", "no-such-dlq"}, "--dlq no-such-dlq: the topic does not exist"},
           {{"replay", "--max-replays", "-1"}, "--max-replays -1: expected 0 or more"},
           {{"show", "--partition", "-1", "--offset", "0"}, "--partition -1 --offset 0"},
           {{"purge", "--yes"}, "purge needs --before PARTITION:OFFSET"},
           {{"purge", "--all", "--before", "0:1", "--yes"}, "purge needs --before"},
           {{"purge", "--before", "zero", "--yes"}, "--before zero: expected PARTITION:OFFSET"},
           {{"purge", "--before", "0:1", "--before", "0:2", "--yes"}, "partition 0 given twice"},
           {{"purge", "--before", "9:0", "--yes"}, "--before 9:0: orders.dlq has 2 partition(s)"},
           {{"purge", "--before", "0:99", "--yes"},
            "--before 0:99: beyond the end of orders.dlq [0] (its next offset is 4)"},
           {{"purge", "--all", "--yes", "--dlq", "orders.dlq", "--dlq", "other.dlq", "--before",
             "0:1"},
            "purge needs"},
           {{"nonsense"}, ""},
           {{}, ""},
       }) {
    CommandResult r = Dlq(c.args);
    const std::string what = c.args.empty() ? "dlq" : c.args.back();
    EXPECT_EQ(r.exit_code, 2) << what << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << what << ": " << r.err;
  }
  // Nothing was deleted by any of them.
  EXPECT_EQ(Watermarks("orders.dlq", 0).first, 0);
}

// The ALPR example on the embedded broker: its DLQ (alpr.dlq, named by
// three consumer groups) is found in weir.yaml and created with the other
// declared topics.
TEST_F(DlqCli, TheAlprExampleOnTheEmbeddedBroker) {
  CommandResult r = RunCommand(
      {WeirBinary(), "-c", testing::SourcePath("examples/alpr/weir.yaml"), "dlq", "stats"}, {},
      std::chrono::seconds(120), {{"WEIR_EMBEDDED_DATA_DIR", dir_.path() + "/embedded"}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "alpr.dlq: 0 dead letter(s)\n");
}

TEST(DlqCliHelp, EverySubcommandHasHelp) {
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--help"}, "dlq"},
           {{"dlq", "--help"}, "replay"},
           {{"dlq", "list", "--help"}, "--error-type"},
           {{"dlq", "show", "--help"}, "--partition"},
           {{"dlq", "stats", "--help"}, "--since"},
           {{"dlq", "replay", "--help"}, "--max-replays"},
           {{"dlq", "purge", "--help"}, "--before"},
       }) {
    std::vector<std::string> argv = {WeirBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << args.back() << ": " << r.err;
    EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
  }
}

TEST_F(DlqCli, WithoutADlqTopicItExitsTwo) {
  const std::string bare = dir_.WriteFile("bare.yaml", "topics:\n  orders: {partitions: 1}\n");
  // No cluster is contacted: a bad argument is found first.
  CommandResult r = RunCommand({WeirBinary(), "-b", "127.0.0.1:1", "-c", bare, "dlq", "list"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("declares no consumer group with `dlq:`; name the topic with --dlq"),
            std::string::npos)
      << r.err;
}

TEST_F(DlqCli, AnUnreachableClusterFailsWithAMessage) {
  CommandResult r = RunCommand({WeirBinary(), "-b", "127.0.0.1:1", "-c", config_, "dlq", "stats"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("weir: "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

using testing::ChildProcess;
using testing::ReadFile;

// weir dlq monitor: a process that reads the DLQ as a consumer group and
// serves the DLQ metrics until SIGTERM.
TEST_F(DlqCli, MonitorServesDlqMetricsUntilSigterm) {
  config_ = dir_.WriteFile("weir.yaml", ReadFile(config_) +
                                            "  dlq-monitor:\n"
                                            "    topics: [orders.dlq]\n"
                                            "metrics: {prefix: alpr_}\n");
  auto child =
      ChildProcess::Start({WeirBinary(), "-b", broker_.bootstrap(), "-c", config_, "dlq", "monitor",
                           "--group", "dlq-monitor", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(child);
  const int port = weir::testing::ReadMetricsPort(*child);
  ASSERT_NE(port, 0);
  httplib::Client http("127.0.0.1", port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string body;
  const std::string want =
      "alpr_dlq_messages_total{error_type=\"SCHEMA_VALIDATION\",original_topic=\"orders\"} 1\n";
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = http.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    body = res->body;
    if (body.find(want) != std::string::npos &&
        body.find("alpr_dlq_unreadable_records_total 1\n") != std::string::npos) {
      break;
    }
    std::this_thread::yield();
  }
  EXPECT_NE(body.find(want), std::string::npos) << body;
  EXPECT_NE(
      body.find("alpr_dlq_messages_total{error_type=\"TIMEOUT\",original_topic=\"payments\"} 1\n"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find("alpr_dlq_oldest_message_age_seconds "), std::string::npos) << body;
  // The monitor's group is a consumer group like any: its own series too.
  EXPECT_NE(body.find("alpr_consumer_messages_processed_total{consumer_group=\"dlq-monitor\""),
            std::string::npos)
      << body;
  child->Signal(SIGTERM);
  const int status = child->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(DlqCli, MonitorNeedsAGroupOfWeirYaml) {
  auto r = Dlq({"monitor", "--group", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--group nope: no such consumer group"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weir
