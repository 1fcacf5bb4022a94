// weir/record.h — the core record types shared by every layer.
//
// Partition and Offset are strong types (see strong_type.h). Record is one
// Kafka record with its coordinates; it is move-only and owns its bytes,
// either as a consumed librdkafka message (zero-copy) or as copied strings.
// A Record may be moved between threads; it is not safe to use one Record
// from two threads at once. A zero-copy consumed Record pins librdkafka state:
// destroy it (or keep a Clone()) before its Consumer is destroyed, or the
// consumer's destruction waits for it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/strong_type.h"

namespace weir {

struct PartitionTag {};
struct OffsetTag {};

// A partition index within a topic. kAnyPartition lets the partitioner choose.
using Partition = StrongInt<int32_t, PartitionTag>;
inline constexpr Partition kAnyPartition{-1};

// A position in a partition. The negative values are librdkafka's logical
// offsets and are accepted wherever a start position is asked for.
using Offset = StrongInt<int64_t, OffsetTag>;
inline constexpr Offset kOffsetBeginning{-2};
inline constexpr Offset kOffsetEnd{-1};
inline constexpr Offset kOffsetStored{-1000};
inline constexpr Offset kOffsetInvalid{-1001};

// "beginning", "end", "stored", "invalid" or the number.
std::string OffsetToString(Offset o);

enum class TimestampType : uint8_t { kNone, kCreateTime, kLogAppendTime };

struct Timestamp {
  int64_t ms = -1;  // milliseconds since the Unix epoch; -1 when absent
  TimestampType type = TimestampType::kNone;
};

// A header as views into the owning Record or request. value is nullopt for
// a header whose value is null (distinct from empty).
struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

// A header with owned bytes, used to build records to produce.
struct Header {
  std::string key;
  std::optional<std::string> value;
};

struct TopicPartition {
  std::string topic;
  Partition partition;
  auto operator<=>(const TopicPartition&) const = default;
};

// A topic-partition with an offset and, for commits, optional metadata.
struct TopicPartitionOffset {
  std::string topic;
  Partition partition;
  Offset offset = kOffsetInvalid;
  std::string metadata;
  bool operator==(const TopicPartitionOffset&) const = default;
};

namespace detail {
// Frees a Record's backing storage with the function it was created with.
struct StorageDeleter {
  void (*fn)(void*) = nullptr;
  void operator()(void* p) const {
    if (p != nullptr && fn != nullptr) fn(p);
  }
};
}  // namespace detail

class Record {
 public:
  Record() = default;
  Record(Record&&) noexcept = default;
  Record& operator=(Record&&) noexcept = default;
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  // Builds a record that owns copies of the given bytes.
  static Record Owned(std::string topic, Partition partition, Offset offset, Timestamp ts,
                      std::optional<std::string> key, std::optional<std::string> value,
                      std::vector<Header> headers = {});

  // Takes ownership of a consumed librdkafka message (rd_kafka_message_t*),
  // which must carry no error. Defined in the kafka layer.
  static Record FromRdKafkaMessage(void* rkmessage);

  std::string_view topic() const { return topic_; }
  Partition partition() const { return partition_; }
  Offset offset() const { return offset_; }
  Timestamp timestamp() const { return timestamp_; }
  // nullopt for a null key/value (distinct from an empty one).
  std::optional<std::string_view> key() const { return key_; }
  std::optional<std::string_view> value() const { return value_; }
  const std::vector<HeaderView>& headers() const { return headers_; }
  // The first header named |name|, if any.
  const HeaderView* FindHeader(std::string_view name) const;

  // A deep copy (owned storage).
  Record Clone() const;

 private:
  std::string_view topic_;
  Partition partition_{-1};
  Offset offset_ = kOffsetInvalid;
  Timestamp timestamp_;
  std::optional<std::string_view> key_;
  std::optional<std::string_view> value_;
  std::vector<HeaderView> headers_;
  std::unique_ptr<void, detail::StorageDeleter> storage_;

  friend class RecordBuilderAccess;
};

// Internal: lets the kafka layer fill a Record's views. Not for users.
class RecordBuilderAccess {
 public:
  static void Set(Record& r, std::string_view topic, Partition p, Offset o, Timestamp ts,
                  std::optional<std::string_view> key, std::optional<std::string_view> value,
                  std::vector<HeaderView> headers, void* storage, void (*deleter)(void*)) {
    r.topic_ = topic;
    r.partition_ = p;
    r.offset_ = o;
    r.timestamp_ = ts;
    r.key_ = key;
    r.value_ = value;
    r.headers_ = std::move(headers);
    r.storage_ =
        std::unique_ptr<void, detail::StorageDeleter>(storage, detail::StorageDeleter{deleter});
  }
};

}  // namespace weir
