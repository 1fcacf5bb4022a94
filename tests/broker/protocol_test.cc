// Codec round trips for every request and response the broker speaks, at
// every version it advertises, plus hostile-input checks.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <tuple>

#include "broker/messages.h"

namespace weir::broker {
namespace {

// Fills a message with distinct non-default values through its Serialize()
// template: two elements per array, every nullable field set. Fields absent
// at the version stay default, which the round trip then checks too.
class Filler {
 public:
  static constexpr bool kDecoding = true;
  void Int8(int8_t& v) { v = static_cast<int8_t>(1 + next_++ % 100); }
  void Int16(int16_t& v) { v = static_cast<int16_t>(1000 + next_++); }
  void Int32(int32_t& v) { v = 100000 + next_++; }
  void Int64(int64_t& v) { v = 10000000000LL + next_++; }
  void Bool(bool& v) { v = (next_++ % 2) == 0; }
  void String(std::string& v) { v = "s" + std::to_string(next_++); }
  void NullableString(std::optional<std::string>& v) { v = "n" + std::to_string(next_++); }
  void Bytes(std::string& v) { v = std::string("\0b\xff", 3) + std::to_string(next_++); }
  void NullableBytes(std::optional<std::string>& v) { v = "nb" + std::to_string(next_++); }
  void NullableBytesView(BytesView& v) {
    const std::string& s = storage_.emplace_back("nv" + std::to_string(next_++));
    v = {reinterpret_cast<const uint8_t*>(s.data()), s.size(), false};
  }
  template <typename T, typename F>
  void Array(std::vector<T>& v, F&& each) {
    v.resize(2);
    for (T& e : v) each(e);
  }
  template <typename T, typename F>
  void NullableArray(std::optional<std::vector<T>>& v, F&& each) {
    v.emplace(2);
    for (T& e : *v) each(e);
  }
  void Int32Array(std::vector<int32_t>& v) {
    Array(v, [this](int32_t& e) { Int32(e); });
  }
  void StringArray(std::vector<std::string>& v) {
    Array(v, [this](std::string& e) { String(e); });
  }

 private:
  int32_t next_ = 0;
  std::deque<std::string> storage_;  // backs the BytesViews it hands out
};

template <typename M>
void RoundTrip(int16_t version, const char* name) {
  SCOPED_TRACE(::testing::Message() << name << " v" << version);
  M original;
  Filler filler;
  original.Serialize(filler, version);

  Writer first;
  EncodeMessage(original, version, first);
  auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(first.buffer().data()),
                                        first.buffer().size());
  Reader r(bytes);
  M decoded = DecodeMessage<M>(r, version);
  EXPECT_EQ(r.remaining(), 0u) << "decoding left bytes unread";
  Writer second;
  EncodeMessage(decoded, version, second);
  EXPECT_EQ(first.buffer(), second.buffer()) << "encode(decode(encode(m))) differs";

  // Every strict prefix is a truncated message: it must fail cleanly.
  for (size_t cut : {size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
    if (cut >= bytes.size()) continue;
    Reader truncated(bytes.subspan(0, cut));
    EXPECT_THROW(DecodeMessage<M>(truncated, version), DecodeError) << "cut at " << cut;
  }
}

template <typename Req, typename Resp>
void RoundTripApi(ApiKey key) {
  const ApiRange* api = FindApi(static_cast<int16_t>(key));
  ASSERT_NE(api, nullptr);
  for (int16_t v = api->min_version; v <= api->max_version; ++v) {
    RoundTrip<Req>(v, api->name);
    RoundTrip<Resp>(v, api->name);
  }
}

TEST(ProtocolCodec, EveryApiEveryVersionRoundTrips) {
  RoundTripApi<ProduceRequest, ProduceResponse>(ApiKey::kProduce);
  RoundTripApi<FetchRequest, FetchResponse>(ApiKey::kFetch);
  RoundTripApi<ListOffsetsRequest, ListOffsetsResponse>(ApiKey::kListOffsets);
  RoundTripApi<MetadataRequest, MetadataResponse>(ApiKey::kMetadata);
  RoundTripApi<OffsetCommitRequest, OffsetCommitResponse>(ApiKey::kOffsetCommit);
  RoundTripApi<OffsetFetchRequest, OffsetFetchResponse>(ApiKey::kOffsetFetch);
  RoundTripApi<FindCoordinatorRequest, FindCoordinatorResponse>(ApiKey::kFindCoordinator);
  RoundTripApi<JoinGroupRequest, JoinGroupResponse>(ApiKey::kJoinGroup);
  RoundTripApi<HeartbeatRequest, ErrorOnlyResponse>(ApiKey::kHeartbeat);
  RoundTripApi<LeaveGroupRequest, ErrorOnlyResponse>(ApiKey::kLeaveGroup);
  RoundTripApi<SyncGroupRequest, SyncGroupResponse>(ApiKey::kSyncGroup);
  RoundTripApi<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey::kDescribeGroups);
  RoundTripApi<ListGroupsRequest, ListGroupsResponse>(ApiKey::kListGroups);
  RoundTripApi<ApiVersionsRequest, ApiVersionsResponse>(ApiKey::kApiVersions);
  RoundTripApi<CreateTopicsRequest, CreateTopicsResponse>(ApiKey::kCreateTopics);
  RoundTripApi<DeleteTopicsRequest, DeleteTopicsResponse>(ApiKey::kDeleteTopics);
  RoundTripApi<DeleteRecordsRequest, DeleteRecordsResponse>(ApiKey::kDeleteRecords);
  RoundTripApi<InitProducerIdRequest, InitProducerIdResponse>(ApiKey::kInitProducerId);
  RoundTripApi<DescribeConfigsRequest, DescribeConfigsResponse>(ApiKey::kDescribeConfigs);
  RoundTripApi<AlterConfigsRequest, AlterConfigsResponse>(ApiKey::kAlterConfigs);
  RoundTripApi<CreatePartitionsRequest, CreatePartitionsResponse>(ApiKey::kCreatePartitions);
}

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Byte layouts written out by hand from the protocol guide, so the codec is
// checked against the specification and not only against itself.
TEST(ProtocolCodec, MetadataV0RequestMatchesTheProtocolGuide) {
  MetadataRequest m;
  m.topics = std::vector<std::string>{"ab"};
  Writer w;
  EncodeMessage(m, 0, w);
  // array length 1, string length 2, "ab"
  EXPECT_EQ(Hex(w.buffer()),
            "00000001"
            "0002"
            "6162");
}

TEST(ProtocolCodec, ProduceV3RequestLayout) {
  ProduceRequest m;
  m.acks = -1;
  m.timeout_ms = 30000;
  const std::string records = "XY";
  m.topics.push_back(
      {"t", {{2, BytesView{reinterpret_cast<const uint8_t*>(records.data()), 2, false}}}});
  Writer w;
  EncodeMessage(m, 3, w);
  // null transactional id, acks -1, timeout 30000, 1 topic "t", 1 partition 2, 2 bytes "XY"
  EXPECT_EQ(Hex(w.buffer()),
            "ffff"
            "ffff"
            "00007530"
            "00000001"
            "0001"
            "74"
            "00000001"
            "00000002"
            "00000002"
            "5859");
}

TEST(ProtocolCodec, ApiVersionsV0ResponseLayout) {
  ApiVersionsResponse m;
  m.error_code = 35;
  m.api_keys.push_back({18, 0, 2});
  Writer w;
  EncodeMessage(m, 0, w);
  EXPECT_EQ(Hex(w.buffer()),
            "0023"
            "00000001"
            "0012"
            "0000"
            "0002");
}

TEST(ProtocolCodec, NullableFieldsEncodeMinusOne) {
  FetchResponse m;
  m.topics.push_back({"t", {FetchResponse::Partition{}}});
  m.topics[0].partitions[0].records.reset();
  Writer w;
  EncodeMessage(m, 4, w);
  // ... aborted_transactions null (ffffffff) then records null (ffffffff)
  EXPECT_EQ(Hex(w.buffer()).substr(Hex(w.buffer()).size() - 16), "ffffffffffffffff");
}

TEST(ProtocolCodec, HostileArrayLengthIsRejectedWithoutAllocating) {
  // A Metadata v1 request that claims 2^31-1 topics in 4 bytes.
  std::string bytes("\x7f\xff\xff\xff", 4);
  Reader r(AsBytes(bytes));
  EXPECT_THROW(DecodeMessage<MetadataRequest>(r, 1), DecodeError);
}

TEST(ProtocolCodec, NegativeLengthsAreRejected) {
  std::string string_len("\xff\xfe", 2);  // -2
  Reader r1(AsBytes(string_len));
  EXPECT_THROW(r1.String(), DecodeError);
  std::string bytes_len("\xff\xff\xff\xfe", 4);
  Reader r2(AsBytes(bytes_len));
  EXPECT_THROW(r2.NullableBytes(), DecodeError);
  std::string array_len("\xff\xff\xff\xfe", 4);
  Reader r3(AsBytes(array_len));
  EXPECT_THROW(r3.ArrayLength(), DecodeError);
}

TEST(ProtocolCodec, VarintsRoundTripAndOverlongOnesFail) {
  for (int64_t v : std::vector<int64_t>{0, 1, -1, 63, -64, 300, INT64_MAX, INT64_MIN}) {
    Writer w;
    w.Varint(v);
    Reader r(AsBytes(w.buffer()));
    EXPECT_EQ(r.Varint(), v);
    EXPECT_EQ(r.remaining(), 0u);
  }
  std::string overlong(11, '\x80');
  Reader r(AsBytes(overlong));
  EXPECT_THROW(r.Varint(), DecodeError);
}

TEST(ProtocolCodec, AdvertisedRangesAreNonFlexible) {
  // The codec has no tagged fields: advertising a flexible version would
  // make clients send bytes we cannot parse. These are the first flexible
  // versions per the Kafka message definitions.
  const std::map<ApiKey, int16_t> first_flexible = {
      {ApiKey::kProduce, 9},         {ApiKey::kFetch, 12},        {ApiKey::kListOffsets, 6},
      {ApiKey::kMetadata, 9},        {ApiKey::kOffsetCommit, 8},  {ApiKey::kOffsetFetch, 6},
      {ApiKey::kFindCoordinator, 3}, {ApiKey::kJoinGroup, 6},     {ApiKey::kHeartbeat, 4},
      {ApiKey::kLeaveGroup, 4},      {ApiKey::kSyncGroup, 4},     {ApiKey::kDescribeGroups, 5},
      {ApiKey::kListGroups, 3},      {ApiKey::kApiVersions, 3},   {ApiKey::kCreateTopics, 5},
      {ApiKey::kDeleteTopics, 4},    {ApiKey::kDeleteRecords, 2}, {ApiKey::kInitProducerId, 2},
      {ApiKey::kDescribeConfigs, 4}, {ApiKey::kAlterConfigs, 2},  {ApiKey::kCreatePartitions, 2},
  };
  for (const ApiRange& a : kSupportedApis) {
    auto it = first_flexible.find(a.key);
    ASSERT_NE(it, first_flexible.end()) << a.name;
    EXPECT_LT(a.max_version, it->second) << a.name;
  }
}

}  // namespace
}  // namespace weir::broker
