// `weir dlq list|show|stats|replay|purge`: the dead letters of DLQ topics
// (docs/dlq.md). Reading, filtering, counting, replaying and purging are
// ops::DlqClient's (weir/ops/dlq.h); this file parses the arguments, turns
// failures into exit codes and prints.
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "common/wall_clock.h"
#include "weir/consume/dead_letter.h"
#include "weir/http/server.h"
#include "weir/observe/metrics.h"
#include "weir/ops/dlq.h"
#include "weir/ops/dlq_monitor.h"
#include "weir/registry/registry.h"
#include "weir/schema/avro.h"

namespace weir::cli {
namespace {

using consume::DeadLetter;
using nlohmann::ordered_json;
using ops::DlqEntry;
using std::chrono::milliseconds;

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

// --- Arguments --------------------------------------------------------------

// An ISO-8601 time, or a duration back from now ("2h").
int64_t ParseTimeOrDie(const char* option, const std::string& text, int64_t now_ms) {
  if (auto ms = consume::ParseDlqTimestamp(text)) return *ms;
  if (auto back = ParseDurationMs(text); back && *back >= 0) return now_ms - *back;
  throw CliError{kExitBadInput,
                 fmt::format("{} {}: expected an ISO-8601 time (2026-11-23T15:04:05Z) or a "
                             "duration back from now (30m, 2h, 7d)",
                             option, text)};
}

ops::DlqFilter ParseFilterOrDie(const DlqOptions& o) {
  ops::DlqFilter f;
  for (const std::string& t : o.error_types) {
    std::optional<ErrorClass> c = ParseErrorClass(t);
    if (!c)
      throw CliError{kExitBadInput, fmt::format("--error-type {}: expected {}", t, kErrorTypes)};
    f.error_types.insert(*c);
  }
  f.original_topics.insert(o.topics.begin(), o.topics.end());
  f.groups.insert(o.groups.begin(), o.groups.end());
  f.keys.insert(o.keys.begin(), o.keys.end());
  const int64_t now = WallClockMs();
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

// --- Reaching the DLQ ----------------------------------------------------------

std::unique_ptr<ops::DlqClient> OpenDlqOrDie(const ops::ClusterConnection& conn) {
  auto client = ops::DlqClient::Open(conn.config);
  if (!client.ok()) throw CliError{kExitBadInput, client.status().ToString()};
  return std::move(client).value();
}

// A failure of the cluster or the client: exit 2 when the client could not
// even be made from the configuration (a bad -X property), else 1.
[[noreturn]] void DieOf(const Status& s) {
  throw CliError{s.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailed,
                 s.ToString()};
}

// The number of partitions of |topic|, which the cluster must have.
int32_t PartitionCountOrDie(ops::DlqClient& client, const std::string& topic) {
  auto count = client.PartitionCount(topic);
  if (!count.ok()) throw CliError{kExitFailed, count.status().ToString()};
  return *count;
}

// Every DLQ topic must exist: a missing one is a bad --dlq, or a weir.yaml
// DLQ the cluster lacks.
void CheckDlqTopicsOrDie(ops::DlqClient& client, const std::vector<std::string>& topics,
                         bool from_option) {
  for (const std::string& t : topics) {
    if (PartitionCountOrDie(client, t) > 0) continue;
    if (from_option) {
      throw CliError{kExitBadInput, fmt::format("--dlq {}: the topic does not exist", t)};
    }
    throw CliError{kExitFailed, fmt::format("DLQ topic {} does not exist on the cluster", t)};
  }
}

// Everything a list, stats or replay needs: the matching dead letters of
// |topics|. Records that are not dead letters, and partitions given up, are
// reported on stderr.
ops::DlqScan ScanOrDie(ops::DlqClient& client, const std::vector<std::string>& topics,
                       bool topics_from_option, const ops::DlqFilter& filter) {
  CheckDlqTopicsOrDie(client, topics, topics_from_option);
  for (const std::string& t : topics) {
    Status added = client.AddTopic(t);
    if (!added.ok()) DieOf(added);
  }
  auto scan = client.Scan(filter);
  if (!scan.ok()) throw CliError{kExitFailed, scan.status().ToString()};
  for (const ops::DlqUnreadable& u : scan->unreadable) {
    std::cerr << "weir dlq: skipped: " << u.error.message() << "\n";
  }
  for (const ops::DlqPartitionRange& p : scan->partitions) {
    if (!p.gave_up.ok()) std::cerr << "weir dlq: " << p.gave_up.message() << "\n";
  }
  return std::move(scan).value();
}

std::string JoinTopics(const std::vector<std::string>& topics) {
  std::string out;
  for (const std::string& t : topics) out += (out.empty() ? "" : ", ") + t;
  return out;
}

// The DLQMessage JSON of |e| with its place in the DLQ.
ordered_json EntryJson(const DlqEntry& e) {
  ordered_json j = ordered_json::parse(consume::DeadLetterToDlqMessageJson(e.dead_letter));
  j["dlq_topic"] = e.dlq_topic;
  j["dlq_partition"] = e.partition.value();
  j["dlq_offset"] = e.offset.value();
  j["dialect"] = std::string(consume::DeadLetterDialectName(e.dead_letter.dialect));
  j["replay_count"] = e.dead_letter.replay_count;
  return j;
}

std::string Dump(const ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

// --- list -------------------------------------------------------------------

void RunList(const GlobalOptions& g, const DlqOptions& o) {
  const ops::DlqFilter filter = ParseFilterOrDie(o);
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  const bool several = topics.size() > 1;
  std::unique_ptr<ops::DlqClient> client = OpenDlqOrDie(conn);
  const ops::DlqScan scan = ScanOrDie(*client, topics, !o.dlq_topics.empty(), filter);
  for (const DlqEntry& e : scan.entries) {
    if (o.json) {
      std::cout << Dump(EntryJson(e)) << "\n";
      continue;
    }
    const DeadLetter& dl = e.dead_letter;
    std::cout << fmt::format("{}{}:{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                             several ? e.dlq_topic + "\t" : std::string(), e.partition.value(),
                             e.offset.value(), consume::FormatDlqTimestamp(dl.timestamp_ms),
                             ErrorClassName(dl.error_type), Origin(dl),
                             dl.consumer_group.empty() ? "-" : OneLine(dl.consumer_group),
                             OneLine(dl.key), FirstLine(dl.error_message));
  }
  std::cerr << fmt::format("weir dlq list: {} dead letter(s) of {} record(s) read from {}{}\n",
                           scan.entries.size(), scan.read, JoinTopics(topics),
                           scan.unreadable.empty()
                               ? std::string()
                               : fmt::format(" ({} not dead letters)", scan.unreadable.size()));
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
  std::unique_ptr<ops::DlqClient> client = OpenDlqOrDie(conn);
  CheckDlqTopicsOrDie(*client, topics, !o.dlq_topics.empty());
  auto found = client->ReadAt(topic, Partition(pos->first), Offset(pos->second));
  if (!found.ok()) DieOf(found.status());
  if (!found->gave_up.ok()) std::cerr << "weir dlq: " << found->gave_up.message() << "\n";
  if (!found->status.ok()) {
    throw CliError{
        found->status.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailed,
        found->status.message()};
  }
  const DeadLetter& dl = found->entry.dead_letter;
  if (o.json) {
    ordered_json j = EntryJson(found->entry);
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
  const ops::DlqFilter filter = ParseFilterOrDie(o);
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  std::unique_ptr<ops::DlqClient> client = OpenDlqOrDie(conn);
  const ops::DlqScan scan = ScanOrDie(*client, topics, !o.dlq_topics.empty(), filter);
  const ops::DlqStats stats = ops::Summarize(scan.entries);
  const int64_t oldest = stats.oldest_ms;
  const int64_t now = WallClockMs();
  const int64_t age_s = oldest < 0 ? -1 : std::max<int64_t>(0, (now - oldest) / 1000);
  if (o.json) {
    ordered_json j;
    j["dlq_topics"] = topics;
    j["total"] = stats.total;
    j["unreadable"] = scan.unreadable.size();
    j["oldest_timestamp"] =
        oldest < 0 ? ordered_json() : ordered_json(consume::FormatDlqTimestamp(oldest));
    j["oldest_age_seconds"] = age_s < 0 ? ordered_json() : ordered_json(age_s);
    ordered_json types = ordered_json::object();
    for (const auto& [t, n] : stats.by_error_type) types[std::string(ErrorClassName(t))] = n;
    j["by_error_type"] = std::move(types);
    j["by_topic"] = stats.by_original_topic;
    j["by_group"] = stats.by_group;
    std::cout << Dump(j) << "\n";
    return;
  }
  std::string out = fmt::format("{}: {} dead letter(s)", JoinTopics(topics), stats.total);
  if (oldest >= 0) {
    out += fmt::format("; oldest {} ({} s old)", consume::FormatDlqTimestamp(oldest), age_s);
  }
  if (!scan.unreadable.empty()) {
    out += fmt::format("; {} record(s) not dead letters", scan.unreadable.size());
  }
  out += "\n";
  auto section = [&out](const char* title, const auto& counts, const auto& name_of) {
    if (counts.empty()) return;
    out += fmt::format("by {}:\n", title);
    for (const auto& [k, n] : counts) out += fmt::format("  {:<40} {}\n", name_of(k), n);
  };
  section("error type", stats.by_error_type,
          [](ErrorClass c) { return std::string(ErrorClassName(c)); });
  section("original topic", stats.by_original_topic, [](const std::string& s) { return s; });
  section("consumer group", stats.by_group,
          [](const std::string& s) { return s.empty() ? std::string("-") : s; });
  std::cout << out;
}

// --- replay -----------------------------------------------------------------

void RunReplay(const GlobalOptions& g, const DlqOptions& o) {
  const ops::DlqFilter filter = ParseFilterOrDie(o);
  if (o.max_replays < 0) {
    throw CliError{kExitBadInput,
                   fmt::format("--max-replays {}: expected 0 or more", o.max_replays)};
  }
  Topology topo = LoadTopologyOrDie(g);
  const std::vector<std::string> topics = DlqTopicsOrDie(o, topo);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  std::unique_ptr<ops::DlqClient> client = OpenDlqOrDie(conn);
  // Where the dead letters go, known before anything is read or sent.
  if (!o.to.empty() && PartitionCountOrDie(*client, o.to) < 0) {
    throw CliError{kExitBadInput, fmt::format("--to {}: the topic does not exist", o.to)};
  }
  const ops::DlqScan scan = ScanOrDie(*client, topics, !o.dlq_topics.empty(), filter);
  auto replay = client->Replay(scan.entries, ops::ReplayOptions{o.to, o.max_replays, o.dry_run});
  if (!replay.ok()) DieOf(replay.status());
  auto at = [&scan](const ops::ReplayOutcome& r) {
    const DlqEntry& e = scan.entries[r.entry];
    return fmt::format("{}:{}", e.partition.value(), e.offset.value());
  };
  // What was decided without sending, then the deliveries.
  for (const ops::ReplayOutcome& r : replay->outcomes) {
    const DeadLetter& dl = scan.entries[r.entry].dead_letter;
    switch (r.action) {
      case ops::ReplayAction::kSkipped:
        std::cout << fmt::format("skip {}: replayed {} time(s) already (--max-replays {})\n", at(r),
                                 dl.replay_count, o.max_replays);
        break;
      case ops::ReplayAction::kNoTarget:
        std::cout << fmt::format("failed {} -> {}: the topic does not exist\n", at(r), r.topic);
        break;
      case ops::ReplayAction::kWouldReplay: {
        const std::string dest = r.partition == kAnyPartition
                                     ? r.topic
                                     : fmt::format("{} [{}]", r.topic, r.partition.value());
        std::cout << fmt::format("would replay {} -> {}: key {}, {} byte(s), {} header(s), {} {}\n",
                                 at(r), dest, OneLine(dl.key), dl.value ? dl.value->size() : 0,
                                 r.header_count, consume::kReplayCountHeader, r.replay_count);
        break;
      }
      case ops::ReplayAction::kReplayed:
      case ops::ReplayAction::kFailed:
        break;
    }
  }
  for (const ops::ReplayOutcome& r : replay->outcomes) {
    if (r.action == ops::ReplayAction::kReplayed) {
      std::cout << fmt::format("replayed {} -> {}:{}:{}\n", at(r), r.topic, r.partition.value(),
                               r.offset.value());
    } else if (r.action == ops::ReplayAction::kFailed) {
      std::cout << fmt::format("failed {} -> {}: {}\n", at(r), r.topic, r.error.ToString());
    }
  }
  if (!replay->closed.ok()) std::cerr << "weir dlq replay: " << replay->closed.ToString() << "\n";
  std::string summary =
      o.dry_run ? fmt::format("dry run: {} would be replayed, nothing sent", replay->would_replay)
                : fmt::format("{} replayed", replay->replayed);
  summary +=
      fmt::format(", {} skipped (replayed {} time(s) already)", replay->skipped, o.max_replays);
  if (!scan.unreadable.empty()) {
    summary += fmt::format(", {} not dead letters", scan.unreadable.size());
  }
  summary += fmt::format(", {} failed; DLQ offsets read: {}", replay->failed, scan.Covered());
  std::cout << "weir dlq replay: " << summary << "\n";
  if (replay->failed > 0) {
    throw CliError{kExitFailed, fmt::format("{} dead letter(s) not replayed", replay->failed)};
  }
}

// --- purge ------------------------------------------------------------------

void RunPurge(const GlobalOptions& g, const DlqOptions& o) {
  if (o.all == !o.before.empty()) {
    throw CliError{kExitBadInput, "purge needs --before PARTITION:OFFSET (repeatable) or --all"};
  }
  std::vector<ops::DlqPosition> before;
  for (const std::string& b : o.before) {
    auto pos = ParsePosition(b);
    if (!pos) {
      throw CliError{kExitBadInput,
                     fmt::format("--before {}: expected PARTITION:OFFSET, e.g. 0:42", b)};
    }
    for (const ops::DlqPosition& earlier : before) {
      if (earlier.partition.value() == pos->first) {
        throw CliError{kExitBadInput,
                       fmt::format("--before {}: partition {} given twice", b, pos->first)};
      }
    }
    before.push_back(ops::DlqPosition{Partition(pos->first), Offset(pos->second)});
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
  std::unique_ptr<ops::DlqClient> client = OpenDlqOrDie(conn);
  CheckDlqTopicsOrDie(*client, topics, !o.dlq_topics.empty());
  std::vector<ops::PurgeStep> steps;
  for (const std::string& t : topics) {
    auto plan = client->PlanPurge(t, before);
    if (!plan.ok()) {
      if (plan.status().code() == StatusCode::kRefused) {
        throw CliError{kExitBadInput, "--before " + plan.status().message()};
      }
      throw CliError{kExitFailed, plan.status().ToString()};
    }
    steps.insert(steps.end(), plan->begin(), plan->end());
  }
  if (o.dry_run) {
    for (const ops::PurgeStep& step : steps) {
      if (step.Empty()) {
        std::cout << fmt::format("nothing to delete in {} [{}] (low watermark {})\n", step.topic,
                                 step.partition.value(), step.low);
      } else {
        const int64_t to = step.PlannedLow();
        std::cout << fmt::format(
            "would delete {} [{}] offsets {}-{} ({} record(s)); low watermark {} -> {}\n",
            step.topic, step.partition.value(), step.low, to - 1, to - step.low, step.low, to);
      }
    }
    std::cout << "weir dlq purge: dry run, nothing deleted\n";
    return;
  }
  auto results = client->Purge(steps);
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

// --- monitor ------------------------------------------------------------------

struct MonitorOptions {
  std::string group;
  std::string listen;
};

void RunMonitor(const GlobalOptions& g, const MonitorOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  if (topo.FindGroup(o.group) == nullptr) {
    throw CliError{kExitBadInput,
                   fmt::format("--group {}: no such consumer group in {} (the monitor runs a "
                               "group whose topics are the DLQ topics)",
                               o.group, topo.path)};
  }
  const sigset_t stop_signals = BlockStopSignals();
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  observe::Registry metrics(topo.metrics.prefix);
  auto monitor = ops::DlqMonitor::Create(topo, o.group, conn.config, &metrics);
  if (!monitor.ok()) throw CliError{ExitCodeFor(monitor.status()), monitor.status().ToString()};
  http::ServerOptions so;
  so.listen = o.listen.empty() ? topo.metrics.listen : o.listen;
  auto server = http::Server::Start(so, nullptr, nullptr, &metrics);
  if (!server.ok()) throw CliError{ExitCodeFor(server.status()), server.status().ToString()};
  if (Status s = (*monitor)->Start(); !s.ok()) throw CliError{ExitCodeFor(s), s.ToString()};
  std::cout << fmt::format("http://{}/metrics\n", (*server)->address()) << std::flush;
  std::cerr << fmt::format("weir dlq monitor: group {} reading {}; metrics on http://{}/metrics\n",
                           o.group, fmt::join(topo.FindGroup(o.group)->topics, ", "),
                           (*server)->address());
  std::cerr << fmt::format("weir dlq monitor: {} received; stopping\n",
                           WaitForStopSignal(stop_signals));
  (*server)->Stop();
  Status s = (*monitor)->Stop(std::chrono::seconds(10));
  const ops::DlqStats st = (*monitor)->Stats();
  std::cerr << fmt::format("weir dlq monitor: {} dead letter(s) read, {} unreadable record(s)\n",
                           st.total, (*monitor)->unreadable());
  if (!s.ok()) throw CliError{kExitFailed, s.ToString()};
}

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

  auto monitor_o = std::make_shared<MonitorOptions>();
  CLI::App* monitor = dlq->add_subcommand(
      "monitor",
      "Run the DLQ monitor: consume the DLQ topics of consumer group --group, log every dead "
      "letter in one JSON line, serve dlq_messages_total{error_type,original_topic} and "
      "dlq_oldest_message_age_seconds on GET /metrics until SIGINT or SIGTERM");
  monitor->add_option("--group", monitor_o->group, "The consumer group whose topics are the DLQ")
      ->required();
  monitor->add_option("--listen", monitor_o->listen,
                      "host:port of /metrics (default: weir.yaml metrics.listen)");
  monitor->callback([&g, monitor_o] { RunMonitor(g, *monitor_o); });
}

}  // namespace weir::cli
