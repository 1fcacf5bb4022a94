// The embedded broker end to end, driven by weir's own Kafka layer
// (librdkafka 2.0.2): produce and consume with every codec, durability
// across restarts, admin APIs, consumer groups with every assignor,
// retention and DeleteRecords, and hostile input on the socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include "broker/broker_test_util.h"
#include "kafka/kafka_test_util.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/observe/metrics.h"

namespace weir::broker::testing {
namespace {

using kafka::testing::MakeConsumer;
using kafka::testing::MakeProducer;
using kafka::testing::PollCount;
using kafka::testing::PollUntil;
using kafka::testing::ValueOf;
using kafka::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<std::string> Values(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

// Produces |values| round-robin over |partitions| partitions and waits for
// every report; returns the acknowledged offsets by value.
std::map<std::string, std::pair<int32_t, int64_t>> ProduceSpread(
    kafka::Producer& producer, const std::string& topic, int partitions,
    const std::vector<std::string>& values) {
  std::vector<std::future<kafka::DeliveryReport>> futures;
  for (size_t i = 0; i < values.size(); ++i) {
    kafka::ProduceRequest req;
    req.topic = topic;
    req.partition = Partition(static_cast<int32_t>(i % static_cast<size_t>(partitions)));
    req.key = values[i];
    req.value = values[i];
    futures.push_back(producer.Send(req));
  }
  std::map<std::string, std::pair<int32_t, int64_t>> acked;
  for (size_t i = 0; i < futures.size(); ++i) {
    kafka::DeliveryReport r = futures[i].get();
    EXPECT_TRUE(r.status.ok()) << values[i] << ": " << r.status.ToString();
    acked[values[i]] = {r.partition.value(), r.offset.value()};
  }
  return acked;
}

class CodecTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CodecTest, ProducedBatchesAreStoredAsSentAndSurviveARestart) {
  TestBroker tb;
  tb.CreateTopic("codec", 3);
  kafka::ClientConfig pc = tb.Config();
  pc.Set("compression.type", GetParam());
  pc.Set("linger.ms", "5");
  auto producer = MakeProducer(pc);
  ASSERT_TRUE(producer);
  auto acked = ProduceSpread(*producer, "codec", 3, Values(GetParam() + "-", 300));
  producer.reset();

  tb.Restart();  // everything must come back from disk
  auto consumer = MakeConsumer(tb.ConsumerConfig());
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(consumer
                  ->Assign({{"codec", Partition(0), kOffsetBeginning, {}},
                            {"codec", Partition(1), kOffsetBeginning, {}},
                            {"codec", Partition(2), kOffsetBeginning, {}}})
                  .ok());
  auto got = PollCount(*consumer, 300);
  ASSERT_EQ(got.size(), 300u);
  std::map<int32_t, int64_t> last;
  for (const Record& r : got) {
    std::string v = ValueOf(r);
    ASSERT_TRUE(acked.count(v)) << v;
    EXPECT_EQ(acked[v].first, r.partition().value()) << v;
    EXPECT_EQ(acked[v].second, r.offset().value()) << v;
    EXPECT_EQ(std::string(*r.key()), v);
    auto it = last.find(r.partition().value());
    if (it != last.end()) {
      EXPECT_EQ(it->second + 1, r.offset().value()) << "offsets in order, no gaps";
    }
    last[r.partition().value()] = r.offset().value();
  }
  got.clear();
}

INSTANTIATE_TEST_SUITE_P(EveryCodec, CodecTest,
                         ::testing::Values("none", "gzip", "snappy", "lz4", "zstd"));

TEST(BrokerTest, UnknownTopicsAreNotCreated) {
  TestBroker tb;
  kafka::ClientConfig pc = tb.Config();
  pc.Set("message.timeout.ms", "3000");
  auto producer = MakeProducer(pc);
  ASSERT_TRUE(producer);
  kafka::ProduceRequest req;
  req.topic = "no-such-topic";
  req.value = std::string_view("x");
  kafka::DeliveryReport r = producer->Send(req).get();
  EXPECT_FALSE(r.status.ok());
  EXPECT_TRUE(r.status.kafka_error() == "UNKNOWN_TOPIC_OR_PART" ||
              r.status.kafka_error() == "_UNKNOWN_TOPIC" ||
              r.status.kafka_error() == "_MSG_TIMED_OUT")
      << r.status.ToString();
  auto md = tb.MakeAdmin()->Metadata(seconds(5));
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->FindTopic("no-such-topic"), nullptr) << "auto-creation must be off";
}

TEST(BrokerTest, AdminCreateDescribeAlterGrowDelete) {
  TestBroker tb;
  auto admin = tb.MakeAdmin();
  ASSERT_TRUE(admin);
  auto created = admin->CreateTopics(
      {{"adm", 2, -1, {{"retention.ms", "86400000"}, {"cleanup.policy", "delete"}}},
       {"bad-rf", 1, 3, {}},
       {"bad-config", 1, -1, {{"retention.msec", "1"}}},
       {"bad name!", 1, -1, {}},
       {"compacted", 1, -1, {{"cleanup.policy", "compact"}}}},
      seconds(10));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->size(), 5u);
  EXPECT_TRUE((*created)[0].status.ok()) << (*created)[0].status.ToString();
  EXPECT_NE((*created)[1].status.message().find("replication factor 3"), std::string::npos)
      << (*created)[1].status.ToString();
  EXPECT_NE((*created)[2].status.message().find("retention.msec"), std::string::npos)
      << (*created)[2].status.ToString();
  EXPECT_FALSE((*created)[3].status.ok());
  EXPECT_NE((*created)[4].status.message().find("compaction"), std::string::npos)
      << (*created)[4].status.ToString();

  auto again = admin->CreateTopics({{"adm", 2, -1, {}}}, seconds(10));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].status.code(), StatusCode::kAlreadyExists) << (*again)[0].status.ToString();

  auto configs = admin->DescribeTopicConfigs("adm", seconds(10));
  ASSERT_TRUE(configs.ok()) << configs.status().ToString();
  EXPECT_EQ(configs->at("retention.ms").value, "86400000");
  EXPECT_EQ(configs->at("retention.ms").source, kafka::ConfigSource::kDynamicTopic);
  EXPECT_EQ(configs->at("segment.bytes").source, kafka::ConfigSource::kDefault);

  ASSERT_TRUE(admin->AlterTopicConfigs("adm", {{"retention.ms", "3600000"}}, seconds(10)).ok());
  configs = admin->DescribeTopicConfigs("adm", seconds(10));
  ASSERT_TRUE(configs.ok());
  EXPECT_EQ(configs->at("retention.ms").value, "3600000");
  EXPECT_EQ(configs->at("cleanup.policy").source, kafka::ConfigSource::kDynamicTopic)
      << "AlterTopicConfigs keeps the other dynamic configs";
  Status bad = admin->AlterTopicConfigs("adm", {{"min.insync.replicas", "2"}}, seconds(10));
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("single node"), std::string::npos) << bad.ToString();

  auto grown = admin->CreatePartitions({{"adm", 5}}, seconds(10));
  ASSERT_TRUE(grown.ok());
  EXPECT_TRUE((*grown)[0].status.ok()) << (*grown)[0].status.ToString();
  auto shrunk = admin->CreatePartitions({{"adm", 3}}, seconds(10));
  ASSERT_TRUE(shrunk.ok());
  EXPECT_FALSE((*shrunk)[0].status.ok());

  tb.Restart();  // metadata and configs are on disk
  admin = tb.MakeAdmin();
  auto md = admin->Metadata(seconds(10));
  ASSERT_TRUE(md.ok());
  const kafka::TopicInfo* adm = md->FindTopic("adm");
  ASSERT_NE(adm, nullptr);
  EXPECT_EQ(adm->partitions.size(), 5u);
  EXPECT_EQ(adm->ReplicationFactor(), 1);
  configs = admin->DescribeTopicConfigs("adm", seconds(10));
  ASSERT_TRUE(configs.ok());
  EXPECT_EQ(configs->at("retention.ms").value, "3600000");

  auto deleted = admin->DeleteTopics({"adm", "never-was"}, seconds(10));
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE((*deleted)[0].status.ok());
  EXPECT_FALSE((*deleted)[1].status.ok());
  md = admin->Metadata(seconds(10));
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->FindTopic("adm"), nullptr);
}

class AssignorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AssignorTest, TwoMembersShareTheTopicAndCommittedOffsetsResume) {
  TestBroker tb;
  tb.CreateTopic("grp", 6);
  auto producer = MakeProducer(tb.Config());
  ASSERT_TRUE(producer);
  ProduceSpread(*producer, "grp", 6, Values("a", 240));  // 40 per partition

  kafka::ClientConfig cc = tb.ConsumerConfig();
  cc.Set("partition.assignment.strategy", GetParam());
  kafka::ConsumerOptions co;
  co.group_id = "g-" + GetParam();
  auto first = MakeConsumer(cc, co);
  auto second = MakeConsumer(cc, co);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->Subscribe({"grp"}).ok());
  ASSERT_TRUE(second->Subscribe({"grp"}).ok());

  // Both members end up with a share of the six partitions.
  std::set<std::string> seen;
  auto poll_both = [&] {
    for (kafka::Consumer* c : {first.get(), second.get()}) {
      auto batch = c->Poll(milliseconds(50));
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      for (Record& r : *batch) seen.insert(ValueOf(r));
    }
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        auto a = first->Assignment();
        auto b = second->Assignment();
        return a.ok() && b.ok() && !a->empty() && !b->empty() && a->size() + b->size() == 6;
      },
      poll_both, seconds(60)));
  ASSERT_TRUE(WaitFor([&] { return seen.size() == 240; }, poll_both, seconds(60)));

  // The group is visible through the admin API while both are members.
  auto admin = tb.MakeAdmin();
  auto groups = admin->ListGroups(seconds(10));
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  bool listed = false;
  for (const auto& g : *groups) listed |= g.group_id == co.group_id;
  EXPECT_TRUE(listed);
  auto described = admin->DescribeGroups({co.group_id}, seconds(10));
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  ASSERT_EQ(described->size(), 1u);
  EXPECT_EQ((*described)[0].members.size(), 2u);
  EXPECT_EQ((*described)[0].state, "Stable");

  // Commit every partition's end from the members that own them.
  for (kafka::Consumer* c : {first.get(), second.get()}) {
    auto assigned = c->Assignment();
    ASSERT_TRUE(assigned.ok());
    std::vector<TopicPartitionOffset> offsets;
    for (const TopicPartition& tp : *assigned)
      offsets.push_back({tp.topic, tp.partition, Offset(20), "m"});
    Status s = c->Commit(offsets);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ASSERT_TRUE(second->Close().ok());
  second.reset();
  // The survivor takes over all six partitions.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto a = first->Assignment();
        return a.ok() && a->size() == 6;
      },
      [&] { (void)first->Poll(milliseconds(50)); }, seconds(60)));
  ASSERT_TRUE(first->Close().ok());
  first.reset();

  // A new member resumes from the committed offsets: 6 partitions x 20 left.
  // (The members consumed everything but committed offset 20 on purpose.)
  auto third = MakeConsumer(cc, co);
  ASSERT_TRUE(third->Subscribe({"grp"}).ok());
  auto rest = PollCount(*third, 120);
  ASSERT_EQ(rest.size(), 120u);
  for (const Record& r : rest) EXPECT_GE(r.offset().value(), 20) << ValueOf(r);
  auto committed = third->Committed({{"grp", Partition(0)}}, seconds(10));
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ((*committed)[0].offset, Offset(20));
  EXPECT_EQ((*committed)[0].metadata, "m");
  rest.clear();
  ASSERT_TRUE(third->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(EveryAssignor, AssignorTest,
                         ::testing::Values("range", "roundrobin", "cooperative-sticky"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// DeleteRecords through librdkafka's admin API.
rd_kafka_resp_err_t DeleteRecordsBefore(kafka::Admin& admin, const std::string& topic,
                                        int32_t partition, int64_t offset, int64_t* low) {
  auto* rk = static_cast<rd_kafka_t*>(admin.native_handle());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(list);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteRecords(rk, &del, 1, nullptr, q);
  rd_kafka_DeleteRecords_destroy(del);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  if (ev != nullptr) {
    err = rd_kafka_event_error(ev);
    if (!err) {
      const rd_kafka_DeleteRecords_result_t* res = rd_kafka_event_DeleteRecords_result(ev);
      const rd_kafka_topic_partition_list_t* offsets = rd_kafka_DeleteRecords_result_offsets(res);
      err = offsets->elems[0].err;
      *low = offsets->elems[0].offset;
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  return err;
}

TEST(BrokerTest, DeleteRecordsMovesTheLogStartAndConsumersBelowItAreReset) {
  TestBroker tb;
  tb.CreateTopic("dr", 1);
  auto producer = MakeProducer(tb.Config());
  ProduceSpread(*producer, "dr", 1, Values("r", 50));
  auto admin = tb.MakeAdmin();
  int64_t low = -1;
  ASSERT_EQ(DeleteRecordsBefore(*admin, "dr", 0, 30, &low), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(low, 30);
  auto wm = admin->ListOffsets({"dr", Partition(0)}, seconds(10));
  ASSERT_TRUE(wm.ok()) << wm.status().ToString();
  EXPECT_EQ(wm->first, Offset(30));
  EXPECT_EQ(wm->second, Offset(50));
  // Beyond the high watermark is an error, and nothing moves.
  EXPECT_EQ(DeleteRecordsBefore(*admin, "dr", 0, 99, &low), RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);

  tb.Restart();  // the log start offset is durable
  admin = tb.MakeAdmin();
  wm = admin->ListOffsets({"dr", Partition(0)}, seconds(10));
  ASSERT_TRUE(wm.ok());
  EXPECT_EQ(wm->first, Offset(30));

  // A consumer asking for offset 5 is below the start: reset to earliest...
  {
    auto c = MakeConsumer(tb.ConsumerConfig());
    ASSERT_TRUE(c->Assign({{"dr", Partition(0), Offset(5), {}}}).ok());
    auto got = PollCount(*c, 20);
    ASSERT_EQ(got.size(), 20u);
    EXPECT_EQ(got.front().offset(), Offset(30));
    EXPECT_EQ(ValueOf(got.front()), "r30");
  }
  // ...or to latest, per auto.offset.reset.
  {
    kafka::ClientConfig cc = tb.ConsumerConfig();
    cc.Set("auto.offset.reset", "latest");
    auto c = MakeConsumer(cc);
    ASSERT_TRUE(c->Assign({{"dr", Partition(0), Offset(5), {}}}).ok());
    // The reset happens at some point after Assign; keep adding records
    // until one arrives. Whatever arrives first must be new: none of the
    // 20 records that were there (r30..r49) may be delivered.
    std::vector<Record> got;
    int added = 0;
    ASSERT_TRUE(WaitFor([&] { return !got.empty(); },
                        [&] {
                          ProduceSpread(*producer, "dr", 1, {"new" + std::to_string(added++)});
                          auto b = c->Poll(milliseconds(200));
                          if (b.ok()) {
                            for (Record& r : *b) got.push_back(std::move(r));
                          }
                        }));
    EXPECT_GE(got[0].offset(), Offset(50));
    EXPECT_EQ(ValueOf(got[0]).substr(0, 3), "new");
    got.clear();
  }
}

TEST(BrokerTest, RetentionDeletesOldSegmentsAndMovesTheLogStart) {
  ManualClock clock(1'700'000'000'000);
  BrokerOptions o;
  o.clock = &clock;
  TestBroker tb(o);
  tb.CreateTopic("ret", 1, {{"retention.ms", "86400000"}, {"segment.bytes", "4096"}});
  auto producer = MakeProducer(tb.Config());
  // Records carry the (manual) broker-side notion of time as their timestamps.
  std::vector<std::future<kafka::DeliveryReport>> fs;
  std::string value(500, 'v');
  for (int i = 0; i < 40; ++i) {
    kafka::ProduceRequest req;
    req.topic = "ret";
    req.partition = Partition(0);
    req.value = value;
    req.timestamp_ms = clock.NowMs();
    fs.push_back(producer->Send(req));
    producer->Flush(seconds(10));
  }
  for (auto& f : fs) ASSERT_TRUE(f.get().status.ok());
  auto admin = tb.MakeAdmin();
  auto before = admin->ListOffsets({"ret", Partition(0)}, seconds(10));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->first, Offset(0));

  EXPECT_EQ(tb.broker().RunRetention(), 0) << "nothing is older than a day yet";
  clock.Advance(2LL * 86400000);
  EXPECT_GT(tb.broker().RunRetention(), 0);
  auto after = admin->ListOffsets({"ret", Partition(0)}, seconds(10));
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->first.value(), 0);
  EXPECT_EQ(after->second, Offset(40)) << "the high watermark never moves back";
}

// ---- hostile input on the socket ----

class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // True when the broker closed the connection (read returns 0 or reset).
  bool ClosedByPeer() {
    char buf[64];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }
  // Reads one response frame.
  std::string ReadFrame() {
    uint8_t len[4];
    if (!ReadAll(len, 4)) return {};
    uint32_t n =
        (uint32_t{len[0]} << 24) | (uint32_t{len[1]} << 16) | (uint32_t{len[2]} << 8) | len[3];
    std::string body(n, '\0');
    if (!ReadAll(reinterpret_cast<uint8_t*>(body.data()), n)) return {};
    return body;
  }

 private:
  bool ReadAll(uint8_t* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd_, p + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
};

std::string Frame(const std::string& body) {
  std::string out(4, '\0');
  uint32_t n = static_cast<uint32_t>(body.size());
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  return out + body;
}

std::string Header(int16_t key, int16_t version, int32_t correlation) {
  std::string h;
  auto put16 = [&](int16_t v) {
    h += static_cast<char>((v >> 8) & 0xff);
    h += static_cast<char>(v & 0xff);
  };
  put16(key);
  put16(version);
  h += static_cast<char>((correlation >> 24) & 0xff);
  h += static_cast<char>((correlation >> 16) & 0xff);
  h += static_cast<char>((correlation >> 8) & 0xff);
  h += static_cast<char>(correlation & 0xff);
  put16(4);
  h += "test";
  return h;
}

// After each bad input, a fresh connection still gets a well-formed
// ApiVersions answer and librdkafka still reads metadata.
void ExpectStillServing(TestBroker& tb) {
  RawClient c(tb.broker().port());
  ASSERT_TRUE(c.connected());
  c.Send(Frame(Header(18, 0, 77)));
  std::string resp = c.ReadFrame();
  ASSERT_GE(resp.size(), 10u);
  EXPECT_EQ(resp.substr(0, 4), std::string("\0\0\0\x4d", 4)) << "correlation id 77";
  EXPECT_EQ(resp.substr(4, 2), std::string("\0\0", 2)) << "no error";
}

TEST(BrokerBadInputTest, HostileFramesCloseOnlyTheirConnection) {
  TestBroker tb;
  tb.CreateTopic("safe", 1);
  auto producer = MakeProducer(tb.Config());
  ProduceSpread(*producer, "safe", 1, Values("keep", 10));

  struct Case {
    const char* name;
    std::string bytes;
  };
  std::string huge_len("\x7f\xff\xff\xff", 4);
  std::string negative_len("\xff\xff\xff\xf0", 4);
  std::vector<Case> cases = {
      {"frame larger than socket.request.max.bytes", huge_len + "xxxx"},
      {"negative frame length", negative_len},
      {"frame shorter than a header", Frame("abc")},
      {"unknown API key", Frame(Header(999, 0, 1))},
      {"Produce v0 (message format v0, unsupported)", Frame(Header(0, 0, 1))},
      {"Fetch v12 (flexible, unsupported)", Frame(Header(1, 12, 1))},
      {"truncated Metadata v1 body", Frame(Header(3, 1, 1) + std::string("\x00\x00", 2))},
      {"Metadata claiming 2^31 topics",
       Frame(Header(3, 1, 1) + std::string("\x7f\xff\xff\xff", 4))},
      {"client id longer than the frame",
       Frame(std::string("\x00\x03\x00\x00\x00\x00\x00\x01\x7f\xff", 10))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawClient raw(tb.broker().port());
    ASSERT_TRUE(raw.connected());
    raw.Send(c.bytes);
    EXPECT_TRUE(raw.ClosedByPeer());
    ExpectStillServing(tb);
  }
  // A produce with a corrupt CRC is answered with CORRUPT_MESSAGE, not stored.
  // (Built by hand: topic "safe", partition 0, a batch whose CRC is wrong.)
  {
    std::string batch(61 + 8, '\0');
    batch[11] = static_cast<char>(61 + 8 - 12);  // batch length
    batch[16] = 2;                               // magic
    batch[17] = 0x12;                            // a wrong CRC
    batch[60] = 1;                               // one record
    std::string body = Header(0, 3, 5);
    body += std::string("\xff\xff", 2);          // null transactional id
    body += std::string("\xff\xff", 2);          // acks -1
    body += std::string("\x00\x00\x27\x10", 4);  // timeout
    body += std::string("\x00\x00\x00\x01\x00\x04", 6) + "safe";
    body += std::string("\x00\x00\x00\x01\x00\x00\x00\x00", 8);
    uint32_t n = static_cast<uint32_t>(batch.size());
    body += std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                        static_cast<char>(n >> 8), static_cast<char>(n)};
    body += batch;
    RawClient raw(tb.broker().port());
    raw.Send(Frame(body));
    std::string resp = raw.ReadFrame();
    ASSERT_FALSE(resp.empty());
    // correlation(4) topics(4) name(2+4) partitions(4) index(4) error(2)
    ASSERT_GE(resp.size(), 24u);
    int16_t err = static_cast<int16_t>((static_cast<uint8_t>(resp[22]) << 8) |
                                       static_cast<uint8_t>(resp[23]));
    EXPECT_EQ(err, 2) << "CORRUPT_MESSAGE";
  }
  // Stored data is untouched.
  auto c = MakeConsumer(tb.ConsumerConfig());
  ASSERT_TRUE(c->Assign({{"safe", Partition(0), kOffsetBeginning, {}}}).ok());
  auto got = PollCount(*c, 10);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(ValueOf(got[9]), "keep9");
  auto more = PollUntil(
      *c, [](const std::vector<Record>&) { return false; }, milliseconds(300));
  EXPECT_TRUE(more.empty());
  got.clear();
  more.clear();
}

TEST(BrokerTest, FetchLongPollIsWokenByNewData) {
  TestBroker tb;
  tb.CreateTopic("lp", 1);
  // A Fetch v4 for lp-0 from offset 0 that may wait 30 s for 1 byte.
  std::string body = Header(1, 4, 9);
  body += std::string("\xff\xff\xff\xff", 4);  // replica id -1
  body += std::string("\x00\x00\x75\x30", 4);  // max wait 30000 ms
  body += std::string("\x00\x00\x00\x01", 4);  // min bytes 1
  body += std::string("\x00\x10\x00\x00", 4);  // max bytes
  body += std::string("\x00", 1);              // isolation level
  body += std::string("\x00\x00\x00\x01\x00\x02", 6) + "lp";
  body += std::string("\x00\x00\x00\x01", 4);  // one partition
  body += std::string("\x00\x00\x00\x00", 4);  // partition 0
  body += std::string(8, '\0');                // fetch offset 0
  body += std::string("\x00\x10\x00\x00", 4);  // partition max bytes
  RawClient raw(tb.broker().port());           // its reads give up after 10 s
  raw.Send(Frame(body));
  // The fetch is parked (no data). A record arriving must answer it well
  // before its 30 s wait ends: the read below would time out otherwise.
  auto producer = MakeProducer(tb.Config());
  ProduceSpread(*producer, "lp", 1, {"wake-up"});
  std::string resp = raw.ReadFrame();
  ASSERT_FALSE(resp.empty()) << "the parked fetch was not woken by the append";
  EXPECT_NE(resp.find("wake-up"), std::string::npos);
}

TEST(BrokerBadInputTest, RecordsOverTheTopicLimitAreMessageTooLarge) {
  TestBroker tb;
  tb.CreateTopic("small", 1, {{"max.message.bytes", "2000"}});
  kafka::ClientConfig pc = tb.Config();
  pc.Set("message.timeout.ms", "10000");
  auto producer = MakeProducer(pc);
  std::string big(5000, 'x');
  kafka::ProduceRequest req;
  req.topic = "small";
  req.partition = Partition(0);
  req.value = big;
  kafka::DeliveryReport r = producer->Send(req).get();
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.kafka_error(), "MSG_SIZE_TOO_LARGE") << r.status.ToString();
  // A record that fits still goes through.
  req.value = std::string_view("fits");
  EXPECT_TRUE(producer->Send(req).get().status.ok());
}

}  // namespace
}  // namespace weir::broker::testing

namespace weir::broker {
namespace {

double Sample(const std::string& text, const std::string& series) {
  for (size_t pos = 0; (pos = text.find(series + " ", pos)) != std::string::npos; ++pos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
  }
  return -1;
}

TEST(BrokerMetricsTest, RequestsBytesConnectionsAndLogsArePromtoolClean) {
  observe::Registry reg("weir_");
  BrokerOptions options;
  options.metrics = &reg;
  auto broker = std::make_unique<testing::TestBroker>(options);
  broker->CreateTopic("m", 2);
  broker->ProduceSpread("m", 2, 10);

  const std::string text = reg.Render();
  EXPECT_GE(Sample(text, "weir_broker_requests_total{api=\"Produce\"}"), 1) << text;
  EXPECT_GE(Sample(text, "weir_broker_requests_total{api=\"CreateTopics\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "weir_broker_requests_total{api=\"DeleteRecords\"}"), 0) << text;
  EXPECT_GT(Sample(text, "weir_broker_request_bytes_total"), 0);
  EXPECT_GT(Sample(text, "weir_broker_response_bytes_total"), 0);
  EXPECT_EQ(Sample(text, "weir_broker_log_end_offset{topic=\"m\",partition=\"0\"}"), 5) << text;
  EXPECT_EQ(Sample(text, "weir_broker_log_end_offset{topic=\"m\",partition=\"1\"}"), 5);
  EXPECT_EQ(Sample(text, "weir_broker_log_start_offset{topic=\"m\",partition=\"1\"}"), 0);
  EXPECT_GT(Sample(text, "weir_broker_log_size_bytes{topic=\"m\",partition=\"0\"}"), 0);
  EXPECT_GE(Sample(text, "weir_broker_connections"), 0);
  if (weir::testing::HaveProgram("promtool")) {
    auto r = weir::testing::RunCommand({"promtool", "check", "metrics"}, text);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // Once stopped, the broker's gauges leave the registry (its counters stay).
  broker.reset();
  const std::string after = reg.Render();
  EXPECT_EQ(after.find("weir_broker_log_size_bytes"), std::string::npos) << after;
  EXPECT_EQ(after.find("weir_broker_connections"), std::string::npos);
  EXPECT_NE(after.find("weir_broker_requests_total"), std::string::npos);
}

}  // namespace
}  // namespace weir::broker
