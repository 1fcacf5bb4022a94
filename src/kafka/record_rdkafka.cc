// Record::FromRdKafkaMessage: a zero-copy Record over a consumed message.
#include <librdkafka/rdkafka.h>

#include "weir/record.h"

namespace weir {
namespace {

void DestroyMessage(void* p) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(p)); }

}  // namespace

Record Record::FromRdKafkaMessage(void* rkmessage) {
  auto* msg = static_cast<rd_kafka_message_t*>(rkmessage);
  Record r;
  if (msg == nullptr) return r;
  // The message holds a reference to its topic handle, so the name lives as
  // long as the message.
  std::string_view topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "";
  rd_kafka_timestamp_type_t tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  Timestamp ts;
  ts.ms = rd_kafka_message_timestamp(msg, &tstype);
  switch (tstype) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME:
      ts.type = TimestampType::kCreateTime;
      break;
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME:
      ts.type = TimestampType::kLogAppendTime;
      break;
    default:
      ts.type = TimestampType::kNone;
      ts.ms = -1;
      break;
  }
  std::optional<std::string_view> key;
  if (msg->key != nullptr) key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
  std::optional<std::string_view> value;
  if (msg->payload != nullptr) {
    value = std::string_view(static_cast<const char*>(msg->payload), msg->len);
  }
  std::vector<HeaderView> headers;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
    headers.reserve(rd_kafka_header_cnt(hdrs));
    const char* name = nullptr;
    const void* val = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      HeaderView h;
      h.key = name;
      if (val != nullptr) h.value = std::string_view(static_cast<const char*>(val), size);
      headers.push_back(h);
    }
  }
  RecordBuilderAccess::Set(r, topic, Partition(msg->partition), Offset(msg->offset), ts, key, value,
                           std::move(headers), msg, &DestroyMessage);
  return r;
}

}  // namespace weir
