// `weir produce`: lines from stdin or a file to one topic.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/publish_commands.h"
#include "weir/ops/line_producer.h"

namespace weir::cli {
namespace {

struct ProduceOptions {
  std::string topic;
  ProduceEventsOptions events;  // --type: through the Publisher
  std::string format = "raw";
  std::string key;
  bool key_given = false;
  std::string key_field;
  std::vector<std::string> headers;
  int partition = -1;
  std::string file = "-";
  std::string delimiter = "\\n";
  int show_failures = 20;
};

Header ParseHeaderOrDie(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw CliError{kExitBadInput,
                   fmt::format("-H {}: expected NAME=VALUE (a header with an empty value is "
                               "NAME=)",
                               text)};
  }
  return Header{text.substr(0, eq), text.substr(eq + 1)};
}

char ParseDelimiterOrDie(const std::string& d) {
  if (d == "\\n") return '\n';
  if (d == "\\t") return '\t';
  if (d == "\\0") return '\0';
  if (d.size() == 1) return d[0];
  throw CliError{kExitBadInput,
                 fmt::format("--delimiter {}: expected one character, \\n, \\t or \\0", d)};
}

void RunProduce(const GlobalOptions& g, const ProduceOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  ops::LineProducerOptions lp;
  lp.topic = o.topic;
  lp.format = o.format == "json" ? ops::LineFormat::kJson : ops::LineFormat::kRaw;
  if (o.key_given) lp.fixed_key = o.key;
  lp.key_field = o.key_field;
  if (!o.key_field.empty() && lp.format != ops::LineFormat::kJson) {
    throw CliError{kExitBadInput, "--key-field needs --format json"};
  }
  if (lp.format == ops::LineFormat::kJson && !o.key_given && o.key_field.empty()) {
    // Default to the partition key weir.yaml declares for the topic.
    if (const TopicSpec* t = topo.FindTopic(o.topic); t != nullptr) lp.key_field = t->key_field;
  }
  for (const std::string& h : o.headers) lp.headers.push_back(ParseHeaderOrDie(h));
  lp.partition = Partition(o.partition);
  lp.delimiter = ParseDelimiterOrDie(o.delimiter);

  const int fd = OpenInputOrDie(o.file);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);
  auto res = ops::ProduceLines(conn.config, fd, lp);
  if (fd != 0) close(fd);
  if (!res.ok()) {
    throw CliError{
        res.status().code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailed,
        res.status().ToString()};
  }
  const ops::LineProducerSummary& s = *res;
  const double secs = std::chrono::duration<double>(s.elapsed).count();
  std::cerr << fmt::format(
      "weir produce: {} line(s) to {}: {} delivered, {} failed, {} refused ({:.2f} s, {:.0f} "
      "records/s)\n",
      s.lines, o.topic, s.delivered, s.failed, s.refused, secs,
      secs > 0 ? static_cast<double>(s.delivered) / secs : 0.0);
  if (s.delivered > 0) {
    auto ms = [](std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1e3; };
    std::cerr << fmt::format(
        "weir produce: delivery latency p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms, max {:.1f} "
        "ms\n",
        ms(s.latency_p50), ms(s.latency_p95), ms(s.latency_p99), ms(s.latency_max));
  }
  int shown = 0;
  for (const ops::LineFailure& f : s.failures) {
    if (shown++ >= o.show_failures) {
      std::cerr << fmt::format("  ... and {} more\n", s.failed + s.refused - o.show_failures);
      break;
    }
    std::cerr << fmt::format("  line {}: {}\n", f.line, f.status.ToString());
  }
  if (!s.AllDelivered()) {
    throw CliError{kExitFailed, fmt::format("{} of {} record(s) were not delivered",
                                            s.failed + s.refused, s.lines)};
  }
}

}  // namespace

void RegisterProduceCommand(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ProduceOptions>();
  CLI::App* cmd = app.add_subcommand(
      "produce",
      "Produce lines from stdin (or --file), one record per non-empty line, and report every "
      "record's delivery. With --type, each line is a JSON event of that type of weir.yaml, "
      "published through the Publisher (validated, routed to its topics, keyed, encoded; "
      "spooled when the cluster is unreachable). With --topic, each line goes to that topic as "
      "is. Exit 1 if any line was not published; the failed line numbers are printed.");
  CLI::Option* topic = cmd->add_option("-t,--topic", o->topic, "Topic to produce to");
  CLI::Option* type = cmd->add_option("-T,--type", o->events.type,
                                      "Event type of weir.yaml (event_types:) to publish");
  topic->excludes(type);
  cmd->add_flag("--outcomes", o->events.outcomes,
                "With --type: print LINE<TAB>OUTCOME[ details] on stdout as each event's "
                "outcome is known (delivered, spooled, duplicate, refused, failed)");
  cmd->add_option("--spool-dir", o->events.spool_dir,
                  "With --type: the spool folder (default publisher.spool.dir of weir.yaml)");
  cmd->add_option("--format", o->format,
                  "raw: each line is the value as is; json: each line must be one JSON "
                  "document (invalid lines are refused)")
      ->check(CLI::IsMember({"raw", "json"}))
      ->capture_default_str();
  cmd->add_option("-k,--key", o->key, "The key of every record")->each([o](const std::string&) {
    o->key_given = true;
  });
  cmd->add_option("--key-field", o->key_field,
                  "JSON field path of the key (e.g. camera_id or node.host); with --format json "
                  "it defaults to the topic's key in weir.yaml");
  cmd->add_option("-H,--header", o->headers, "Header NAME=VALUE added to every record (repeat)");
  cmd->add_option("-p,--partition", o->partition,
                  "Partition to produce to (default: by key hash, librdkafka's partitioner)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-f,--file", o->file, "Read from this file instead of stdin")
      ->capture_default_str();
  cmd->add_option("--delimiter", o->delimiter, "Record delimiter: one character, \\n, \\t or \\0")
      ->capture_default_str();
  cmd->add_option("--show-failures", o->show_failures, "How many failed lines to list")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([&g, o, cmd] {
    if (!o->events.type.empty()) {
      for (const char* opt :
           {"--format", "--key", "--key-field", "--header", "--partition", "--delimiter"}) {
        if (cmd->count(opt) > 0) {
          throw CliError{kExitBadInput,
                         fmt::format("{} does not apply to --type (the event type of weir.yaml "
                                     "decides format, key and partitioning)",
                                     opt)};
        }
      }
      o->events.file = o->file;
      o->events.show_failures = o->show_failures;
      RunProduceEvents(g, o->events);
      return;
    }
    if (o->topic.empty()) throw CliError{kExitBadInput, "give --topic or --type"};
    if (cmd->count("--outcomes") > 0 || cmd->count("--spool-dir") > 0) {
      throw CliError{kExitBadInput, "--outcomes and --spool-dir need --type"};
    }
    RunProduce(g, *o);
  });
}

}  // namespace weir::cli
