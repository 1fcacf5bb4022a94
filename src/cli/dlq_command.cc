// `weir dlq list|show|stats|replay|purge`: the dead letters of DLQ topics
// (docs/dlq.md). Every command reads the DLQ partitions directly, without a
// consumer group and without committing, from their low watermarks up to the
// high watermarks they had when the command started, so it ends, and a
// replay into the DLQ topic itself never reads its own output.
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "weir/consume/dead_letter.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/registry/registry.h"
#include "weir/schema/avro.h"

namespace weir::cli {
namespace {

using consume::DeadLetter;
using nlohmann::ordered_json;
using std::chrono::milliseconds;

constexpr milliseconds kAdminTimeout{10000};
// How long a read waits without any record before it gives up on the
// partitions it has not read to their end (a transaction marker or a
// compacted tail can leave the last offsets without a record).
constexpr milliseconds kIdleLimit{30000};

constexpr const char* kErrorTypes =
    "SCHEMA_VALIDATION, PROCESSING_FAILURE, TIMEOUT, BUSINESS_LOGIC or UNKNOWN";

struct DlqOptions {
  std::vector<std::string> dlq_topics;
  // Filters (list, stats, replay).
  std::vector<std::string> error_types;
  std::vector<std::string> topics;
  std::vector<std::string> groups;
  std::vector<std::string> keys;
  std::string since;
  std::string until;
  std::optional<int64_t> limit;
  bool json = false;
  // show
  std::string position;
  std::optional<int32_t> partition;
  std::optional<int64_t> offset;
  // replay
  std::string to;
  bool dry_run = false;
  int max_replays = 3;
  // purge
  std::vector<std::string> before;
  bool all = false;
  bool yes = false;
};

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- Arguments --------------------------------------------------------------

// Which dead letters a command works on.
struct Filter {
  std::set<ErrorClass> error_types;
  std::set<std::string> topics;
  std::set<std::string> groups;
  std::set<std::string> keys;
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;
  int64_t limit = -1;

  bool Matches(const DeadLetter& dl) const {
    if (!error_types.empty() && error_types.count(dl.error_type) == 0) return false;
    if (!topics.empty() && topics.count(dl.original_topic) == 0) return false;
    if (!groups.empty() && groups.count(dl.consumer_group) == 0) return false;
    if (!keys.empty() && (!dl.key || keys.count(*dl.key) == 0)) return false;
    if (since_ms && dl.timestamp_ms < *since_ms) return false;
    if (until_ms && dl.timestamp_ms > *until_ms) return false;
    return true;
  }
};

// An ISO-8601 time, or a duration back from now ("2h").
int64_t ParseTimeOrDie(const char* option, const std::string& text, int64_t now_ms) {
  if (auto ms = consume::ParseDlqTimestamp(text)) return *ms;
  if (auto back = ParseDurationMs(text); back && *back >= 0) return now_ms - *back;
  throw CliError{kExitBadInput,
                 fmt::format("{} {}: expected an ISO-8601 time (2026-11-23T15:04:05Z) or a "
                             "duration back from now (30m, 2h, 7d)",
                             option, text)};
}

Filter ParseFilterOrDie(const DlqOptions& o) {
  Filter f;
  for (const std::string& t : o.error_types) {
    std::optional<ErrorClass> c = ParseErrorClass(t);
    if (!c)
      throw CliError{kExitBadInput, fmt::format("--error-type {}: expected {}", t, kErrorTypes)};
    f.error_types.insert(*c);
  }
  f.topics.insert(o.topics.begin(), o.topics.end());
  f.groups.insert(o.groups.begin(), o.groups.end());
  f.keys.insert(o.keys.begin(), o.keys.end());
  const int64_t now = NowMs();
  if (!o.since.empty()) f.since_ms = ParseTimeOrDie("--since", o.since, now);
  if (!o.until.empty()) f.until_ms = ParseTimeOrDie("--until", o.until, now);
  if (f.since_ms && f.until_ms && *f.since_ms > *f.until_ms) {
    throw CliError{kExitBadInput, fmt::format("--since {} is after --until {}", o.since, o.until)};
  }
  if (o.limit) {
    if (*o.limit <= 0) {
      throw CliError{kExitBadInput,
                     fmt::format("--limit {}: expected a positive number", *o.limit)};
    }
    f.limit = *o.limit;
  }
  return f;
}

// "PARTITION:OFFSET", both non-negative.
std::optional<std::pair<int32_t, int64_t>> ParsePosition(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  int32_t p = -1;
  int64_t o = -1;
  const std::string_view ps = text.substr(0, colon);
  const std::string_view os = text.substr(colon + 1);
  auto [pe, perr] = std::from_chars(ps.data(), ps.data() + ps.size(), p);
  auto [oe, oerr] = std::from_chars(os.data(), os.data() + os.size(), o);
  if (perr != std::errc() || pe != ps.data() + ps.size() || p < 0) return std::nullopt;
  if (oerr != std::errc() || oe != os.data() + os.size() || o < 0) return std::nullopt;
  return std::make_pair(p, o);
}

// The DLQ topics: --dlq, else every distinct `dlq:` of weir.yaml's groups.
std::vector<std::string> DlqTopicsOrDie(const DlqOptions& o, const Topology& topo) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& t) {
    if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  for (const std::string& t : o.dlq_topics) {
    if (t.empty()) throw CliError{kExitBadInput, "--dlq: empty topic name"};
    add(t);
  }
  if (!out.empty()) return out;
  for (const ConsumerGroupSpec& group : topo.consumer_groups) add(group.dlq_topic);
  if (out.empty()) {
    throw CliError{kExitBadInput,
                   fmt::format("no DLQ topic: {} declares no consumer group with `dlq:`; name the "
                               "topic with --dlq",
                               topo.path)};
  }
  return out;
}

// --- Printing helpers -----------------------------------------------------

bool IsUtf8(std::string_view bytes) { return simdjson::validate_utf8(bytes.data(), bytes.size()); }

// Bytes on one line: UTF-8 text with tabs and line breaks as spaces, else
// "base64:..."; "-" for null.
std::string OneLine(const std::optional<std::string>& bytes) {
  if (!bytes) return "-";
  std::string out = consume::TextOrBase64(*bytes);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return out;
}

std::string FirstLine(const std::string& text) {
  const size_t eol = text.find('\n');
  return OneLine(text.substr(0, eol));
}

std::string Origin(const DeadLetter& dl) {
  return fmt::format("{}:{}:{}", dl.original_topic, dl.original_partition.value(),
                     dl.original_offset.value());
}

std::string HexDump(std::string_view bytes) {
  std::string out;
  for (size_t row = 0; row < bytes.size(); row += 16) {
    std::string hex;
    std::string ascii;
    for (size_t i = row; i < row + 16; ++i) {
      if (i == row + 8) hex += ' ';
      if (i < bytes.size()) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        hex += fmt::format("{:02x} ", c);
        ascii += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
      } else {
        hex += "   ";
      }
    }
    out += fmt::format("  {:08x}  {} |{}|\n", row, hex, ascii);
  }
  return out;
}

std::string Indent(const std::string& text) {
  std::string out = "  ";
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += "  ";
  }
  if (out.back() != '\n') out += '\n';
  return out;
}

// --- Reading the DLQ ----------------------------------------------------------

// One DLQ partition: where reading starts and the high watermark at start.
struct PartitionRead {
  TopicPartition tp;
  Offset start = kOffsetBeginning;
  int64_t low = 0;
  int64_t high = 0;
  int64_t first_read = -1;
  int64_t last_read = -1;
  bool done = false;

  // The offset the next record should have.
  int64_t NextOffset() const {
    if (last_read >= 0) return last_read + 1;
    return start == kOffsetBeginning ? low : start.value();
  }
};

std::unique_ptr<kafka::Admin> AdminOrDie(const ops::ClusterConnection& conn) {
  auto admin = kafka::Admin::Create(conn.config);
  if (!admin.ok()) throw CliError{kExitBadInput, admin.status().ToString()};
  return std::move(admin).value();
}

// The metadata of every DLQ topic; a missing one is an error (a bad --dlq,
// or a weir.yaml DLQ the cluster lacks).
std::map<std::string, kafka::TopicInfo> DlqMetadataOrDie(kafka::Admin& admin,
                                                         const std::vector<std::string>& topics,
                                                         bool from_option) {
  auto md = admin.Metadata(kAdminTimeout);
  if (!md.ok()) throw CliError{kExitFailed, md.status().ToString()};
  std::map<std::string, kafka::TopicInfo> out;
  for (const std::string& t : topics) {
    const kafka::TopicInfo* info = md->FindTopic(t);
    if (info == nullptr || info->partitions.empty()) {
      if (from_option) {
        throw CliError{kExitBadInput, fmt::format("--dlq {}: the topic does not exist", t)};
      }
      throw CliError{kExitFailed, fmt::format("DLQ topic {} does not exist on the cluster", t)};
    }
    out.emplace(t, *info);
  }
  return out;
}

// Reads DLQ partitions with a consumer outside any group.
class DlqReader {
 public:
  explicit DlqReader(const kafka::ClientConfig& config) {
    auto consumer = kafka::Consumer::Create(config, kafka::ConsumerOptions{});
    if (!consumer.ok()) throw CliError{kExitBadInput, consumer.status().ToString()};
    consumer_ = std::move(consumer).value();
  }
  ~DlqReader() { (void)consumer_->Close(); }
  DlqReader(const DlqReader&) = delete;
  DlqReader& operator=(const DlqReader&) = delete;

  // Adds every partition of |topic| from its beginning.
  void AddTopic(const kafka::TopicInfo& topic) {
    for (const kafka::PartitionInfo& p : topic.partitions) {
      AddPartition(TopicPartition{topic.name, p.id}, kOffsetBeginning);
    }
  }
  // Adds one partition from |start|, snapshotting its watermarks, and
  // returns a copy of what it noted.
  PartitionRead AddPartition(const TopicPartition& tp, Offset start) {
    auto wm = consumer_->QueryWatermarks(tp, kAdminTimeout);
    if (!wm.ok()) throw CliError{kExitFailed, wm.status().ToString()};
    PartitionRead& p = parts_.emplace_back();
    p.tp = tp;
    p.start = start;
    p.low = wm->low.value();
    p.high = wm->high.value();
    p.done = p.NextOffset() >= p.high;
    return p;
  }

  // Calls |visit| for each record below the snapshot high watermarks, in
  // offset order per partition, until every partition is read or |visit|
  // returns false. Records are valid during the call only.
  void Read(const std::function<bool(const Record&)>& visit) {
    std::vector<TopicPartitionOffset> assignment;
    for (const PartitionRead& p : parts_) {
      if (!p.done) assignment.push_back({p.tp.topic, p.tp.partition, p.start, {}});
    }
    if (assignment.empty()) return;
    Status s = consumer_->Assign(assignment);
    if (!s.ok()) throw CliError{kExitFailed, s.ToString()};
    auto last_record = std::chrono::steady_clock::now();
    while (Remaining() > 0) {
      auto batch = consumer_->Poll(milliseconds(200));
      if (!batch.ok()) throw CliError{kExitFailed, batch.status().ToString()};
      if (batch->empty()) {
        if (std::chrono::steady_clock::now() - last_record > kIdleLimit) {
          for (const PartitionRead& p : parts_) {
            if (p.done) continue;
            std::cerr << fmt::format(
                "weir dlq: gave up on {} [{}] at offset {}: no record for {} s before its end "
                "offset {}\n",
                p.tp.topic, p.tp.partition.value(), p.NextOffset(), kIdleLimit.count() / 1000,
                p.high);
          }
          return;
        }
        continue;
      }
      last_record = std::chrono::steady_clock::now();
      for (const Record& r : *batch) {
        PartitionRead* p = Find(r.topic(), r.partition());
        if (p == nullptr || p->done) continue;
        const int64_t off = r.offset().value();
        if (off >= p->high) {  // written after the start: not ours to read
          p->done = true;
          continue;
        }
        if (p->first_read < 0) p->first_read = off;
        p->last_read = off;
        if (off + 1 >= p->high) p->done = true;
        if (!visit(r)) return;
      }
    }
  }

  const std::vector<PartitionRead>& parts() const { return parts_; }

  // "alpr.dlq [0] 0-41, alpr.dlq [1] none".
  std::string Covered() const {
    std::string out;
    for (const PartitionRead& p : parts_) {
      if (!out.empty()) out += ", ";
      out += fmt::format("{} [{}] ", p.tp.topic, p.tp.partition.value());
      out +=
          p.first_read < 0 ? std::string("none") : fmt::format("{}-{}", p.first_read, p.last_read);
    }
    return out;
  }

 private:
  size_t Remaining() const {
    return static_cast<size_t>(std::count_if(parts_.begin(), parts_.end(),
                                             [](const PartitionRead& p) { return !p.done; }));
  }
  PartitionRead* Find(std::string_view topic, Partition partition) {
    for (PartitionRead& p : parts_) {
      if (p.tp.partition == partition && p.tp.topic == topic) return &p;
    }
    return nullptr;
  }

  std::unique_ptr<kafka::Consumer> consumer_;
  std::vector<PartitionRead> parts_;
};

// A dead letter read from the DLQ, with its place there.
struct Entry {
  std::string dlq_topic;
  Partition dlq_partition;
  Offset dlq_offset;
  DeadLetter dl;
};

struct ScanResult {
  std::vector<Entry> matched;
  int64_t read = 0;
  int64_t unreadable = 0;  // records that are not dead letters
  std::string covered;
};

// Everything a list, stats or replay needs: the matching dead letters of
// |topics|. Records that are not dead letters are reported on stderr.
ScanResult ScanOrDie(const ops::ClusterConnection& conn, const std::vector<std::string>& topics,
                     bool topics_from_option, const Filter& filter) {
  auto admin = AdminOrDie(conn);
  auto md = DlqMetadataOrDie(*admin, topics, topics_from_option);
  DlqReader reader(conn.config);
  for (const std::string& t : topics) reader.AddTopic(md.at(t));
  ScanResult out;
  reader.Read([&](const Record& r) {
    ++out.read;
    auto dl = consume::ParseDeadLetter(r);
    if (!dl.ok()) {
      ++out.unreadable;
      std::cerr << "weir dlq: skipped: " << dl.status().message() << "\n";
      return true;
    }
    if (!filter.Matches(*dl)) return true;
    out.matched.push_back(
        Entry{std::string(r.topic()), r.partition(), r.offset(), std::move(dl).value()});
    return filter.limit < 0 || static_cast<int64_t>(out.matched.size()) < filter.limit;
  });
  out.covered = reader.Covered();
  return out;
}

std::string JoinTopics(const std::vector<std::string>& topics) {
  std::string out;
  for (const std::string& t : topics) out += (out.empty() ? "" : ", ") + t;
  return out;
}

// The DLQMessage JSON of |e| with its place in the DLQ.
ordered_json EntryJson(const Entry& e) {
  ordered_json j = ordered_json::parse(consume::DeadLetterToDlqMessageJson(e.dl));
  j["dlq_topic"] = e.dlq_topic;
  j["dlq_partition"] = e.dlq_partition.value();
  j["dlq_offset"] = e.dlq_offset.value();
  j["dialect"] = std::string(consume::DeadLetterDialectName(e.dl.dialect));
  j["replay_count"] = e.dl.replay_count;
  return j;
}

std::string Dump(const ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

// --- list -------------------------------------------------------------------

void RunList(const GlobalOptions& g, const DlqOptions& o) {
  const Filter filter = ParseFilterOrDie(o);
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  const bool several = topics.size() > 1;
  ScanResult scan = ScanOrDie(conn, topics, !o.dlq_topics.empty(), filter);
  for (const Entry& e : scan.matched) {
    if (o.json) {
      std::cout << Dump(EntryJson(e)) << "\n";
      continue;
    }
    const DeadLetter& dl = e.dl;
    std::cout << fmt::format("{}{}:{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                             several ? e.dlq_topic + "\t" : std::string(), e.dlq_partition.value(),
                             e.dlq_offset.value(), consume::FormatDlqTimestamp(dl.timestamp_ms),
                             ErrorClassName(dl.error_type), Origin(dl),
                             dl.consumer_group.empty() ? "-" : OneLine(dl.consumer_group),
                             OneLine(dl.key), FirstLine(dl.error_message));
  }
  std::cerr << fmt::format(
      "weir dlq list: {} dead letter(s) of {} record(s) read from {}{}\n", scan.matched.size(),
      scan.read, JoinTopics(topics),
      scan.unreadable > 0 ? fmt::format(" ({} not dead letters)", scan.unreadable) : std::string());
}

// --- show -------------------------------------------------------------------

// A Confluent-framed Avro value as indented JSON, decoded with the writer's
// schema from the topology's registry.
Result<std::string> DecodeAvro(const schema::ConfluentFrame& frame, const Topology& topo) {
  // The local registry is a folder that opening would create: a missing one
  // holds no schema.
  const std::filesystem::path folder = std::filesystem::path(topo.folder) / topo.registry.folder;
  if (topo.registry.url.empty() && !std::filesystem::exists(folder)) {
    return Status::NotFound(fmt::format("no registry at {}", folder.string()));
  }
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<registry::Registry> reg,
                        registry::OpenRegistry(topo.registry, topo.folder));
  WEIR_ASSIGN_OR_RETURN(schema::AvroSchema avro, reg->GetAvroById(frame.schema_id));
  WEIR_ASSIGN_OR_RETURN(schema::AvroValue datum, schema::DecodeBinary(avro, frame.payload));
  WEIR_ASSIGN_OR_RETURN(std::string json, schema::AvroToJson(avro, datum));
  return Dump(ordered_json::parse(json), 2);
}

// The value for a human: decoded Avro when it is Confluent-framed and the
// registry knows its schema, else text when UTF-8, else a hex dump.
std::string DescribeValue(const std::optional<std::string>& value, const Topology& topo) {
  if (!value) return "value: null\n";
  auto frame = schema::UnwrapConfluent(*value);
  if (frame.ok() && frame->schema_id > 0) {  // registries hand out positive ids
    auto json = DecodeAvro(*frame, topo);
    if (json.ok()) {
      return fmt::format("value: Avro, schema id {} ({} bytes):\n{}", frame->schema_id,
                         value->size(), Indent(*json));
    }
    return fmt::format("value: Confluent-framed, schema id {}, not decoded ({}); {} bytes:\n{}",
                       frame->schema_id, json.status().message(), value->size(), HexDump(*value));
  }
  if (IsUtf8(*value)) {
    return fmt::format("value: text, {} bytes:\n{}", value->size(), Indent(*value));
  }
  return fmt::format("value: binary, {} bytes:\n{}", value->size(), HexDump(*value));
}

std::string HeaderText(const Header& h) {
  return fmt::format("  {}: {}\n", OneLine(h.key), h.value ? OneLine(*h.value) : "(null)");
}

void RunShow(const GlobalOptions& g, const DlqOptions& o) {
  std::optional<std::pair<int32_t, int64_t>> pos;
  if (!o.position.empty()) {
    if (o.partition || o.offset) {
      throw CliError{kExitBadInput, "give PARTITION:OFFSET or --partition and --offset, not both"};
    }
    pos = ParsePosition(o.position);
    if (!pos) {
      throw CliError{kExitBadInput,
                     fmt::format("{}: expected PARTITION:OFFSET, e.g. 0:42", o.position)};
    }
  } else if (o.partition && o.offset) {
    if (*o.partition < 0 || *o.offset < 0) {
      throw CliError{kExitBadInput,
                     fmt::format("--partition {} --offset {}: expected non-negative numbers",
                                 *o.partition, *o.offset)};
    }
    pos = std::make_pair(*o.partition, *o.offset);
  } else {
    throw CliError{kExitBadInput,
                   "which dead letter? give PARTITION:OFFSET (as `weir dlq list` prints it) or "
                   "--partition and --offset"};
  }
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  if (topics.size() > 1) {
    throw CliError{kExitBadInput, fmt::format("several DLQ topics ({}): choose one with --dlq",
                                              JoinTopics(topics))};
  }
  const std::string& topic = topics.front();
  const std::string where = fmt::format("{}:{}", pos->first, pos->second);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  auto admin = AdminOrDie(conn);
  auto md = DlqMetadataOrDie(*admin, topics, !o.dlq_topics.empty());
  if (static_cast<size_t>(pos->first) >= md.at(topic).partitions.size()) {
    throw CliError{kExitBadInput, fmt::format("{}: {} has {} partition(s)", where, topic,
                                              md.at(topic).partitions.size())};
  }
  DlqReader reader(conn.config);
  const PartitionRead part =
      reader.AddPartition(TopicPartition{topic, Partition(pos->first)}, Offset(pos->second));
  if (pos->second < part.low || pos->second >= part.high) {
    throw CliError{kExitBadInput,
                   part.low >= part.high
                       ? fmt::format("{}: {} [{}] is empty", where, topic, pos->first)
                       : fmt::format("{}: {} [{}] holds offsets {}-{}", where, topic, pos->first,
                                     part.low, part.high - 1)};
  }
  std::optional<Result<DeadLetter>> found;
  int64_t found_at = -1;
  reader.Read([&](const Record& r) {
    found_at = r.offset().value();
    if (found_at == pos->second) found.emplace(consume::ParseDeadLetter(r));
    return false;
  });
  if (!found) {
    throw CliError{kExitFailed, found_at < 0
                                    ? fmt::format("{}: no record read from {}", where, topic)
                                    : fmt::format("{}: no record at this offset of {} (deleted or "
                                                  "compacted); the next is {}:{}",
                                                  where, topic, pos->first, found_at)};
  }
  if (!found->ok()) throw CliError{kExitFailed, found->status().message()};
  const DeadLetter& dl = found->value();
  if (o.json) {
    ordered_json j = EntryJson(Entry{topic, Partition(pos->first), Offset(pos->second), dl});
    ordered_json headers = ordered_json::array();
    for (const Header& h : dl.original_headers) {
      headers.push_back(
          {{"key", h.key},
           {"value", h.value ? ordered_json(consume::TextOrBase64(*h.value)) : ordered_json()}});
    }
    j["original_headers"] = std::move(headers);
    std::cout << Dump(j, 2) << "\n";
    return;
  }
  std::string out = fmt::format("dead letter {} {}\n", topic, where);
  auto field = [&out](std::string_view name, const std::string& value) {
    out += fmt::format("  {:<18}{}\n", std::string(name) + ":", value);
  };
  field("dlq id", dl.dlq_id);
  field("dialect", std::string(consume::DeadLetterDialectName(dl.dialect)));
  field("dead-lettered at", consume::FormatDlqTimestamp(dl.timestamp_ms));
  field("original", fmt::format("{} [{}] offset {}", dl.original_topic,
                                dl.original_partition.value(), dl.original_offset.value()));
  field("original time", dl.original_timestamp_ms >= 0
                             ? consume::FormatDlqTimestamp(dl.original_timestamp_ms)
                             : std::string("-"));
  field("consumer group", dl.consumer_group.empty() ? "-" : dl.consumer_group);
  field("error type", std::string(ErrorClassName(dl.error_type)));
  field("error message", FirstLine(dl.error_message));
  field("retries", std::to_string(dl.retry_count));
  field("replays", std::to_string(dl.replay_count));
  field("key", dl.key ? OneLine(dl.key) : std::string("null"));
  if (dl.error_message.find('\n') != std::string::npos) {
    out += "error message:\n" + Indent(dl.error_message);
  }
  out += dl.metadata.empty() ? "metadata: none\n" : "metadata:\n";
  for (const auto& [k, v] : dl.metadata) out += fmt::format("  {}: {}\n", k, OneLine(v));
  out += dl.original_headers.empty() ? "original headers: none\n" : "original headers:\n";
  for (const Header& h : dl.original_headers) out += HeaderText(h);
  out += dl.error_context.empty() ? "error context: none\n"
                                  : "error context:\n" + Indent(dl.error_context);
  out += DescribeValue(dl.value, topo);
  std::cout << out;
}

// --- stats ------------------------------------------------------------------

void RunStats(const GlobalOptions& g, const DlqOptions& o) {
  const Filter filter = ParseFilterOrDie(o);
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  ScanResult scan = ScanOrDie(conn, topics, !o.dlq_topics.empty(), filter);
  std::map<ErrorClass, int64_t> by_type;
  std::map<std::string, int64_t> by_topic;
  std::map<std::string, int64_t> by_group;
  int64_t oldest = -1;  // the oldest dead letter's time; -1 when none
  for (const Entry& e : scan.matched) {
    ++by_type[e.dl.error_type];
    ++by_topic[e.dl.original_topic];
    ++by_group[e.dl.consumer_group];
    if (e.dl.timestamp_ms >= 0 && (oldest < 0 || e.dl.timestamp_ms < oldest)) {
      oldest = e.dl.timestamp_ms;
    }
  }
  const int64_t now = NowMs();
  const int64_t age_s = oldest < 0 ? -1 : std::max<int64_t>(0, (now - oldest) / 1000);
  if (o.json) {
    ordered_json j;
    j["dlq_topics"] = topics;
    j["total"] = scan.matched.size();
    j["unreadable"] = scan.unreadable;
    j["oldest_timestamp"] =
        oldest < 0 ? ordered_json() : ordered_json(consume::FormatDlqTimestamp(oldest));
    j["oldest_age_seconds"] = age_s < 0 ? ordered_json() : ordered_json(age_s);
    ordered_json types = ordered_json::object();
    for (const auto& [t, n] : by_type) types[std::string(ErrorClassName(t))] = n;
    j["by_error_type"] = std::move(types);
    j["by_topic"] = by_topic;
    j["by_group"] = by_group;
    std::cout << Dump(j) << "\n";
    return;
  }
  std::string out = fmt::format("{}: {} dead letter(s)", JoinTopics(topics), scan.matched.size());
  if (oldest >= 0) {
    out += fmt::format("; oldest {} ({} s old)", consume::FormatDlqTimestamp(oldest), age_s);
  }
  if (scan.unreadable > 0) out += fmt::format("; {} record(s) not dead letters", scan.unreadable);
  out += "\n";
  auto section = [&out](const char* title, const auto& counts, const auto& name_of) {
    if (counts.empty()) return;
    out += fmt::format("by {}:\n", title);
    for (const auto& [k, n] : counts) out += fmt::format("  {:<40} {}\n", name_of(k), n);
  };
  section("error type", by_type, [](ErrorClass c) { return std::string(ErrorClassName(c)); });
  section("original topic", by_topic, [](const std::string& s) { return s; });
  section("consumer group", by_group,
          [](const std::string& s) { return s.empty() ? std::string("-") : s; });
  std::cout << out;
}

// --- replay -----------------------------------------------------------------

// The original headers with kReplayCountHeader set to |count| (in place of
// the first earlier one, any others dropped; else appended).
std::vector<Header> ReplayHeaders(const std::vector<Header>& original, int count) {
  std::vector<Header> out;
  bool placed = false;
  for (const Header& h : original) {
    if (h.key != consume::kReplayCountHeader) {
      out.push_back(h);
    } else if (!placed) {
      out.push_back(Header{h.key, std::to_string(count)});
      placed = true;
    }
  }
  if (!placed) {
    out.push_back(Header{std::string(consume::kReplayCountHeader), std::to_string(count)});
  }
  return out;
}

void RunReplay(const GlobalOptions& g, const DlqOptions& o) {
  const Filter filter = ParseFilterOrDie(o);
  if (o.max_replays < 0) {
    throw CliError{kExitBadInput,
                   fmt::format("--max-replays {}: expected 0 or more", o.max_replays)};
  }
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  // Where the dead letters go, known before anything is read or sent.
  auto admin = AdminOrDie(conn);
  auto md = admin->Metadata(kAdminTimeout);
  if (!md.ok()) throw CliError{kExitFailed, md.status().ToString()};
  if (!o.to.empty() && md->FindTopic(o.to) == nullptr) {
    throw CliError{kExitBadInput, fmt::format("--to {}: the topic does not exist", o.to)};
  }
  ScanResult scan = ScanOrDie(conn, topics, !o.dlq_topics.empty(), filter);

  struct Pending {
    const Entry* entry;
    std::string topic;
    std::future<kafka::DeliveryReport> report;
  };
  std::unique_ptr<kafka::Producer> producer;
  if (!o.dry_run) {
    auto p = kafka::Producer::Create(conn.config);
    if (!p.ok()) throw CliError{kExitBadInput, p.status().ToString()};
    producer = std::move(p).value();
  }
  std::vector<Pending> pending;
  int64_t skipped_replays = 0;
  int64_t failed = 0;
  int64_t would = 0;
  for (const Entry& e : scan.matched) {
    const DeadLetter& dl = e.dl;
    const std::string at = fmt::format("{}:{}", e.dlq_partition.value(), e.dlq_offset.value());
    if (dl.replay_count >= o.max_replays) {
      ++skipped_replays;
      std::cout << fmt::format("skip {}: replayed {} time(s) already (--max-replays {})\n", at,
                               dl.replay_count, o.max_replays);
      continue;
    }
    const std::string& target = o.to.empty() ? dl.original_topic : o.to;
    const kafka::TopicInfo* info = md->FindTopic(target);
    if (info == nullptr) {
      ++failed;
      std::cout << fmt::format("failed {} -> {}: the topic does not exist\n", at, target);
      continue;
    }
    // Back to the partition it came from (so a key stays where its producer
    // put it, whatever that producer's partitioner); --to lets the
    // partitioner hash the key.
    Partition partition = kAnyPartition;
    if (o.to.empty() && dl.original_partition.value() >= 0 &&
        static_cast<size_t>(dl.original_partition.value()) < info->partitions.size()) {
      partition = dl.original_partition;
    }
    const std::vector<Header> headers = ReplayHeaders(dl.original_headers, dl.replay_count + 1);
    const std::string dest =
        partition == kAnyPartition ? target : fmt::format("{} [{}]", target, partition.value());
    if (o.dry_run) {
      ++would;
      std::cout << fmt::format("would replay {} -> {}: key {}, {} byte(s), {} header(s), {} {}\n",
                               at, dest, OneLine(dl.key), dl.value ? dl.value->size() : 0,
                               headers.size(), consume::kReplayCountHeader, dl.replay_count + 1);
      continue;
    }
    std::vector<HeaderView> views;
    views.reserve(headers.size());
    for (const Header& h : headers) {
      views.push_back(
          HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    kafka::ProduceRequest req;
    req.topic = target;
    req.partition = partition;
    if (dl.key) req.key = *dl.key;
    if (dl.value) req.value = *dl.value;
    req.headers = views;
    pending.push_back(Pending{&e, target, producer->Send(req)});
  }
  int64_t replayed = 0;
  for (Pending& p : pending) {
    const kafka::DeliveryReport r = p.report.get();
    const std::string at =
        fmt::format("{}:{}", p.entry->dlq_partition.value(), p.entry->dlq_offset.value());
    if (r.status.ok()) {
      ++replayed;
      std::cout << fmt::format("replayed {} -> {}:{}:{}\n", at, r.topic, r.partition.value(),
                               r.offset.value());
    } else {
      ++failed;
      std::cout << fmt::format("failed {} -> {}: {}\n", at, p.topic, r.status.ToString());
    }
  }
  if (producer) {
    Status closed = producer->Close();
    if (!closed.ok()) std::cerr << "weir dlq replay: " << closed.ToString() << "\n";
  }
  std::string summary = o.dry_run
                            ? fmt::format("dry run: {} would be replayed, nothing sent", would)
                            : fmt::format("{} replayed", replayed);
  summary +=
      fmt::format(", {} skipped (replayed {} time(s) already)", skipped_replays, o.max_replays);
  if (scan.unreadable > 0) summary += fmt::format(", {} not dead letters", scan.unreadable);
  summary += fmt::format(", {} failed; DLQ offsets read: {}", failed, scan.covered);
  std::cout << "weir dlq replay: " << summary << "\n";
  if (failed > 0) {
    throw CliError{kExitFailed, fmt::format("{} dead letter(s) not replayed", failed)};
  }
}

// --- purge ------------------------------------------------------------------

void RunPurge(const GlobalOptions& g, const DlqOptions& o) {
  if (o.all == !o.before.empty()) {
    throw CliError{kExitBadInput, "purge needs --before PARTITION:OFFSET (repeatable) or --all"};
  }
  std::vector<std::pair<int32_t, int64_t>> before;
  for (const std::string& b : o.before) {
    auto pos = ParsePosition(b);
    if (!pos) {
      throw CliError{kExitBadInput,
                     fmt::format("--before {}: expected PARTITION:OFFSET, e.g. 0:42", b)};
    }
    for (const auto& [p, off] : before) {
      if (p == pos->first) {
        throw CliError{kExitBadInput, fmt::format("--before {}: partition {} given twice", b, p)};
      }
    }
    before.push_back(*pos);
  }
  if (!o.yes && !o.dry_run) {
    throw CliError{kExitBadInput,
                   "purge deletes records for good: add --yes (or --dry-run to see what it "
                   "would delete)"};
  }
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  if (!before.empty() && topics.size() > 1) {
    throw CliError{kExitBadInput, fmt::format("--before: several DLQ topics ({}): choose one with "
                                              "--dlq",
                                              JoinTopics(topics))};
  }
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  auto admin = AdminOrDie(conn);
  auto md = DlqMetadataOrDie(*admin, topics, !o.dlq_topics.empty());

  std::vector<TopicPartitionOffset> requests;
  for (const std::string& t : topics) {
    const kafka::TopicInfo& info = md.at(t);
    if (o.all) {
      for (const kafka::PartitionInfo& p : info.partitions)
        requests.push_back({t, p.id, kOffsetEnd, {}});
      continue;
    }
    for (const auto& [p, off] : before) {
      if (static_cast<size_t>(p) >= info.partitions.size()) {
        throw CliError{kExitBadInput, fmt::format("--before {}:{}: {} has {} partition(s)", p, off,
                                                  t, info.partitions.size())};
      }
      requests.push_back({t, Partition(p), Offset(off), {}});
    }
  }
  // The watermarks, to check --before and to say what goes.
  std::vector<std::pair<int64_t, int64_t>> marks;
  for (const TopicPartitionOffset& r : requests) {
    auto wm = admin->ListOffsets(TopicPartition{r.topic, r.partition}, kAdminTimeout);
    if (!wm.ok()) throw CliError{kExitFailed, wm.status().ToString()};
    const int64_t low = wm->first.value();
    const int64_t high = wm->second.value();
    if (r.offset != kOffsetEnd && r.offset.value() > high) {
      throw CliError{
          kExitBadInput,
          fmt::format("--before {}:{}: beyond the end of {} [{}] (its next offset is "
                      "{})",
                      r.partition.value(), r.offset.value(), r.topic, r.partition.value(), high)};
    }
    marks.emplace_back(low, high);
  }
  if (o.dry_run) {
    for (size_t i = 0; i < requests.size(); ++i) {
      const TopicPartitionOffset& r = requests[i];
      const auto [low, high] = marks[i];
      const int64_t to = r.offset == kOffsetEnd ? high : r.offset.value();
      if (to <= low) {
        std::cout << fmt::format("nothing to delete in {} [{}] (low watermark {})\n", r.topic,
                                 r.partition.value(), low);
      } else {
        std::cout << fmt::format(
            "would delete {} [{}] offsets {}-{} ({} record(s)); low watermark {} -> {}\n", r.topic,
            r.partition.value(), low, to - 1, to - low, low, to);
      }
    }
    std::cout << "weir dlq purge: dry run, nothing deleted\n";
    return;
  }
  auto results = admin->DeleteRecords(requests, kAdminTimeout);
  if (!results.ok()) throw CliError{kExitFailed, results.status().ToString()};
  int failed = 0;
  for (const kafka::DeleteRecordsResult& r : *results) {
    if (r.status.ok()) {
      std::cout << fmt::format("{} [{}]: low watermark now {}\n", r.partition.topic,
                               r.partition.partition.value(), r.low_watermark.value());
    } else {
      ++failed;
      std::cout << fmt::format("{} [{}]: failed: {}\n", r.partition.topic,
                               r.partition.partition.value(), r.status.ToString());
    }
  }
  if (failed > 0) {
    throw CliError{kExitFailed, fmt::format("{} partition(s) not purged", failed)};
  }
}

// --- Registration -----------------------------------------------------------

void AddDlqOption(CLI::App* cmd, DlqOptions* o) {
  cmd->add_option("--dlq", o->dlq_topics,
                  "DLQ topic (repeat for several; default: every `dlq:` of weir.yaml's consumer "
                  "groups)");
}

void AddFilterOptions(CLI::App* cmd, DlqOptions* o) {
  cmd->add_option("--error-type", o->error_types,
                  std::string("Only this error type (repeatable): ") + kErrorTypes);
  cmd->add_option("--topic", o->topics, "Only dead letters of this original topic (repeatable)");
  cmd->add_option("--group", o->groups, "Only dead letters of this consumer group (repeatable)");
  cmd->add_option("--key", o->keys, "Only dead letters with this key (repeatable)");
  cmd->add_option("--since", o->since,
                  "Only dead letters written at or after this time: ISO-8601 "
                  "(2026-11-23T15:04:05Z) or a duration back from now (2h)");
  cmd->add_option("--until", o->until, "Only dead letters written at or before this time");
  cmd->add_option("--limit", o->limit, "Stop after this many matching dead letters");
}

}  // namespace

void RegisterDlqCommands(CLI::App& app, const GlobalOptions& g) {
  CLI::App* dlq = app.add_subcommand(
      "dlq",
      "Inspect, replay and purge dead letters (weir's, Spring Kafka's and Kafka Connect's) "
      "on DLQ topics (docs/dlq.md)");
  dlq->require_subcommand(1);

  auto list_o = std::make_shared<DlqOptions>();
  CLI::App* list = dlq->add_subcommand(
      "list",
      "One line per dead letter: DLQ PARTITION:OFFSET, time, error type, original "
      "topic:partition:offset, group, key, first line of the error message");
  AddDlqOption(list, list_o.get());
  AddFilterOptions(list, list_o.get());
  list->add_flag("--json", list_o->json,
                 "One JSON object per line: the DLQMessage fields and dlq_topic, dlq_partition, "
                 "dlq_offset, dialect, replay_count");
  list->callback([&g, list_o] { RunList(g, *list_o); });

  auto show_o = std::make_shared<DlqOptions>();
  CLI::App* show = dlq->add_subcommand(
      "show",
      "One dead letter in full: fields, metadata, original headers, error context and "
      "the value (Avro decoded with the registry, text, or a hex dump)");
  show->add_option("position", show_o->position, "PARTITION:OFFSET in the DLQ topic");
  show->add_option("--partition", show_o->partition, "DLQ partition (with --offset)");
  show->add_option("--offset", show_o->offset, "DLQ offset (with --partition)");
  AddDlqOption(show, show_o.get());
  show->add_flag("--json", show_o->json, "Print the dead letter as one JSON document");
  show->callback([&g, show_o] { RunShow(g, *show_o); });

  auto stats_o = std::make_shared<DlqOptions>();
  CLI::App* stats = dlq->add_subcommand(
      "stats", "Counts by error type, original topic and consumer group; the oldest's age");
  AddDlqOption(stats, stats_o.get());
  AddFilterOptions(stats, stats_o.get());
  stats->add_flag("--json", stats_o->json, "Print one JSON object");
  stats->callback([&g, stats_o] { RunStats(g, *stats_o); });

  auto replay_o = std::make_shared<DlqOptions>();
  CLI::App* replay = dlq->add_subcommand(
      "replay",
      "Re-publish matching dead letters to their original topic and partition (or --to): "
      "original key, value bytes and headers, with weir.replay.count raised by one");
  AddDlqOption(replay, replay_o.get());
  AddFilterOptions(replay, replay_o.get());
  replay->add_option("--to", replay_o->to, "Publish to this topic instead (partition by key)");
  replay->add_flag("--dry-run", replay_o->dry_run, "Print what would be sent; send nothing");
  replay
      ->add_option("--max-replays", replay_o->max_replays,
                   "Skip dead letters already replayed this many times")
      ->capture_default_str();
  replay->callback([&g, replay_o] { RunReplay(g, *replay_o); });

  auto purge_o = std::make_shared<DlqOptions>();
  CLI::App* purge = dlq->add_subcommand(
      "purge", "Delete DLQ records (DeleteRecords): below PARTITION:OFFSET, or all of them");
  AddDlqOption(purge, purge_o.get());
  purge->add_option("--before", purge_o->before,
                    "Delete the records of PARTITION below OFFSET (repeatable, one per partition)");
  purge->add_flag("--all", purge_o->all, "Delete every record of every DLQ partition");
  purge->add_flag("--yes", purge_o->yes, "Really delete (required unless --dry-run)");
  purge->add_flag("--dry-run", purge_o->dry_run, "Print what would be deleted; delete nothing");
  purge->callback([&g, purge_o] { RunPurge(g, *purge_o); });
}

}  // namespace weir::cli
