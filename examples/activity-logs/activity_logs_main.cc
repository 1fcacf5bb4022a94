// weir-activity-logs — the activity logs design
// (shared/seeds/activity-logs-topics.md) running on weir:
//
//   api           the REST API producer: POST /v1/events/UserActivity →
//                 user-activity-logs, keyed by userId (weir's HTTP ingest)
//   consumer      group user-activity-processor: each event stored once in
//                 the document store (SQLite, or PostgreSQL JSONB), the
//                 seed's retry policy, the DLQ, optional analytics events
//   dead-letters  the DLQ in the seed's dead-letter shape
//   run           all of it in one process on a scripted set of requests,
//                 checked, with a summary: the example's one command
//
// On the embedded cluster (weir.yaml's default) the declared topics are
// created on first use; against a real cluster (-b) create them with
// `weir -c examples/activity-logs/weir.yaml topics apply` first.
#include <fmt/format.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "activity_consumer.h"
#include "activity_events.h"
#include "activity_store.h"
#include "common/uuid.h"
#include "example_cli.h"
#include "weir/http/server.h"
#include "weir/kafka/producer.h"
#include "weir/ops/dlq.h"
#include "weir/publish/publisher.h"
#include "weir/topology.h"

namespace weir::examples {
namespace {

using activity_logs::FailureRule;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Program kProgram{
    .name = "weir-activity-logs",
    .system = "activity-logs",
    .config_help = "The activity logs topology",
    .bootstrap_help =
        "Kafka bootstrap servers, instead of weir.yaml's cluster.bootstrap (embedded)",
};

// The storage failures `run` injects unless --inject-failure is given: the
// demo's poison events and its flaky ones.
constexpr const char* kDemoPoison = "demo_poison";
constexpr const char* kDemoFlaky = "demo_flaky";
const std::vector<std::string> kDemoFailures = {std::string(kDemoPoison) + ":permanent",
                                                std::string(kDemoFlaky) + ":transient:2"};

// "<weir.yaml folder>/.weir/activity-logs/<name>" unless |given|.
std::string StatePath(const weir::Topology& t, const std::string& given, const std::string& name) {
  return weir::examples::StatePath(t, kProgram.system, given, name);
}

std::unique_ptr<activity_logs::ActivityStore> OpenStore(const Setup& s, const std::string& spec) {
  auto store = activity_logs::OpenActivityStore(StatePath(s.topology, spec, "activity.sqlite"));
  if (!store.ok()) throw CommandError{kExitFailed, "--store: " + store.status().ToString()};
  return std::move(*store);
}

std::vector<FailureRule> ParseRules(const std::vector<std::string>& texts) {
  std::vector<FailureRule> rules;
  for (const std::string& t : texts) {
    auto r = activity_logs::ParseFailureRule(t);
    if (!r.ok()) throw CommandError{kExitBadInput, r.status().message()};
    rules.push_back(*r);
  }
  return rules;
}

std::string RulesText(const std::vector<FailureRule>& rules) {
  std::vector<std::string> parts;
  for (const FailureRule& r : rules) parts.push_back(activity_logs::FailureRuleText(r));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

// Waits for Ctrl-C or |duration_s| (0 = Ctrl-C only), or until |stopped|.
void WaitForStop(int duration_s, const std::function<bool()>& stopped) {
  const auto deadline = duration_s > 0 ? std::chrono::steady_clock::now() + seconds(duration_s)
                                       : std::chrono::steady_clock::time_point::max();
  while (!StopRequested() && std::chrono::steady_clock::now() < deadline && !stopped()) {
  }
}

std::string StoredLine(const activity_logs::StoredActivity& a, activity_logs::InsertOutcome o) {
  return fmt::format("stored  {:<28} {:<10} {:<12} from {} [{}] offset {}{}", a.event_id, a.user_id,
                     a.activity_type, a.source_topic, a.source_partition, a.source_offset,
                     o == activity_logs::InsertOutcome::kAlreadyStored
                         ? " (redelivered; stored before, not again)"
                         : "");
}

// Starts group user-activity-processor on |store|, printing each stored
// event; |publisher| (for the analytics events) may be null without
// |analytics|. Throws CommandError.
std::unique_ptr<activity_logs::ActivityConsumer> StartConsumer(
    const Setup& s, activity_logs::ActivityStore* store, weir::publish::Publisher* publisher,
    bool analytics, const std::vector<FailureRule>& failures) {
  activity_logs::ActivityConsumerOptions o;
  o.analytics = analytics;
  o.failures = failures;
  o.on_stored = [](const activity_logs::StoredActivity& sa, activity_logs::InsertOutcome out) {
    Say(StoredLine(sa, out));
  };
  auto consumer =
      activity_logs::ActivityConsumer::Create(s.topology, s.conn.config, store, publisher, o);
  if (!consumer.ok()) throw CommandError{kExitBadInput, consumer.status().ToString()};
  Check((*consumer)->Start(), "starting the consumer");
  return std::move(*consumer);
}

// --- api ----------------------------------------------------------------------

int ApiCommand(const CommonOptions& c, const std::string& listen, const std::string& token,
               int duration_s, const std::string& spool_dir) {
  Setup s = Connect(c);
  PrintCluster(s);
  auto publisher = MakePublisher(s, StatePath(s.topology, spool_dir, "spool/api"));
  weir::http::ServerOptions so;
  so.listen = listen;
  so.bearer_token = token;
  auto server = weir::http::Server::Start(so, publisher.get(), nullptr);
  if (!server.ok()) throw CommandError{kExitFailed, server.status().ToString()};
  fmt::print(
      "activity API: POST http://{}/v1/events/{} (one JSON event, or NDJSON lines with "
      "Content-Type: application/x-ndjson); GET /healthz; Ctrl-C stops\n",
      (*server)->address(), activity_logs::kActivityEvent);
  std::fflush(stdout);
  const auto deadline = duration_s > 0 ? std::chrono::steady_clock::now() + seconds(duration_s)
                                       : std::chrono::steady_clock::time_point::max();
  while (!StopRequested() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  (*server)->Stop();
  const weir::publish::PublisherStats st = publisher->Stats();
  Check(publisher->Close(seconds(30)), "closing the publisher");
  fmt::print(
      "activity API: {} accepted ({} delivered, {} spooled, {} duplicates), {} refused, {} "
      "failed\n",
      st.accepted, st.delivered, st.spooled, st.duplicates, st.refused, st.failed);
  return kExitOk;
}

// --- consumer -----------------------------------------------------------------

struct ConsumerArgs {
  std::string store;
  bool analytics = false;
  std::vector<std::string> failures;
  int duration_s = 0;
  std::string spool_dir;
};

int ConsumerCommand(const CommonOptions& c, const ConsumerArgs& a) {
  Setup s = Connect(c);
  PrintCluster(s);
  auto store = OpenStore(s, a.store);
  std::unique_ptr<weir::publish::Publisher> publisher;
  if (a.analytics)
    publisher = MakePublisher(s, StatePath(s.topology, a.spool_dir, "spool/consumer"));
  const std::vector<FailureRule> failures = ParseRules(a.failures);
  auto consumer = StartConsumer(s, store.get(), publisher.get(), a.analytics, failures);
  fmt::print(
      "consumer: group {} on {} -> {}; DLQ {}; analytics {}; injected failures: {}; "
      "Ctrl-C stops\n",
      activity_logs::kProcessorGroup, activity_logs::kActivityTopic, store->Describe(),
      activity_logs::kDlqTopic, a.analytics ? activity_logs::kAnalyticsTopic : "off",
      RulesText(failures));
  std::fflush(stdout);
  WaitForStop(a.duration_s, [&] { return consumer->runtime().WaitStopped(milliseconds(200)); });
  const weir::Status stopped = consumer->Stop(seconds(30));
  const auto st = consumer->Stats();
  const auto gs = consumer->GroupStats();
  fmt::print(
      "consumer: {} records, {} stored, {} redelivered (stored before), {} dead-lettered, {} "
      "retries, {} analytics events\n",
      gs.received, st.stored, st.already_stored, gs.dead_lettered, gs.retries,
      st.analytics_published);
  Check(stopped, "the consumer stopped");
  if (publisher) Check(publisher->Close(seconds(30)), "closing the publisher");
  return kExitOk;
}

// --- dead-letters -----------------------------------------------------------------

int DeadLettersCommand(const CommonOptions& c, int64_t limit) {
  Setup s = Connect(c);
  auto client = weir::ops::DlqClient::Open(s.conn.config);
  if (!client.ok()) throw CommandError{kExitFailed, client.status().ToString()};
  Check((*client)->AddTopic(activity_logs::kDlqTopic), "reading the DLQ");
  weir::ops::DlqFilter filter;
  if (limit > 0) filter.limit = limit;
  auto scan = (*client)->Scan(filter);
  if (!scan.ok()) throw CommandError{kExitFailed, scan.status().ToString()};
  for (const weir::ops::DlqEntry& e : scan->entries) {
    fmt::print("{}\n", activity_logs::SeedDeadLetter(e.dead_letter).dump());
  }
  for (const weir::ops::DlqUnreadable& u : scan->unreadable) {
    fmt::print(stderr, "skipped: {}\n", u.error.message());
  }
  fmt::print(stderr, "{} dead letter(s) of {} record(s) read from {}\n", scan->entries.size(),
             scan->read, scan->Covered());
  return kExitOk;
}

// --- run ----------------------------------------------------------------------

// One scripted request and what the API must answer.
struct Request {
  std::string what;
  std::string body;
  bool ndjson = false;
  int expect_status = 202;
  int expect_duplicates = 0;
};

// The scripted traffic of `run` for run |id|: what to post and what to
// expect of the events.
struct Script {
  std::vector<Request> requests;
  std::map<std::string, json> stored;      // eventId → event: stored once each
  std::set<std::string> refused;           // eventIds of refused requests: never stored
  std::map<std::string, std::string> dlq;  // eventId → expected error type
  std::vector<json> redeliver;             // accepted events produced again around the API
  json schema_poison;                      // a record produced around the API, invalid
};

json Activity(const std::string& run, int n, const std::string& user, const std::string& type) {
  return json{{"userId", user},
              {"activityType", type},
              {"timestamp", weir::consume::FormatDlqTimestamp(1704969000000 + n * 1000)},
              {"metadata",
               {{"ipAddress", fmt::format("192.168.1.{}", 10 + n)},
                {"userAgent", "Mozilla/5.0 (weir-activity-logs run)"},
                {"sessionId", fmt::format("sess_{}_{}", run, user)}}},
              {"eventId", fmt::format("evt_{}_{:03}", run, n)},
              {"version", "1.0"}};
}

Script MakeScript(const std::string& run) {
  Script s;
  int n = 0;
  auto post = [&](const std::string& what, const json& e) {
    s.requests.push_back({what, e.dump(), false, 202, 0});
  };
  // Four users log in, browse and log out: 12 events.
  const std::vector<std::string> users = {"user1", "user2", "user3", "user4"};
  for (const char* type : {"login", "page_view", "logout"}) {
    for (const std::string& u : users) {
      json e = Activity(run, ++n, u, type);
      s.stored[e["eventId"]] = e;
      post(fmt::format("{} {}", u, type), e);
    }
  }
  // A batch of three as NDJSON.
  std::string batch;
  for (int i = 0; i < 3; ++i) {
    json e = Activity(run, ++n, users[static_cast<size_t>(i)], "page_view");
    s.stored[e["eventId"]] = e;
    batch += e.dump() + "\n";
  }
  s.requests.push_back({"a batch of 3 (NDJSON)", batch, true, 202, 0});
  // Three posted again: the API says 202, the publisher drops the copies.
  for (const char* id : {"_001", "_005", "_010"}) {
    const json& e = s.stored.at(fmt::format("evt_{}{}", run, id));
    s.requests.push_back({"the same event again", e.dump(), false, 202, 1});
  }
  // Bad requests: 400, nothing published.
  {
    json e = Activity(run, ++n, "user1", "login");
    e.erase("userId");
    s.refused.insert(e["eventId"]);
    s.requests.push_back({"no userId", e.dump(), false, 400, 0});
    json v = Activity(run, ++n, "user2", "login");
    v["version"] = "2.0";
    s.refused.insert(v["eventId"]);
    s.requests.push_back({"version 2.0 (this schema takes 1.x)", v.dump(), false, 400, 0});
    s.requests.push_back({"not JSON", "{\"userId\": \"user3\", ", false, 400, 0});
    json good = Activity(run, ++n, "user3", "login");
    json bad = Activity(run, ++n, "user3", "");
    s.refused.insert(good["eventId"]);
    s.refused.insert(bad["eventId"]);
    s.requests.push_back({"a batch with an empty activityType on line 2",
                          good.dump() + "\n" + bad.dump() + "\n", true, 400, 0});
  }
  // Storage fails: twice for the flaky ones (stored on the 3rd attempt),
  // for good for the poison ones (to the DLQ).
  for (const std::string& u : {std::string("user2"), std::string("user4")}) {
    json f = Activity(run, ++n, u, kDemoFlaky);
    s.stored[f["eventId"]] = f;
    post(fmt::format("{} {} (storage fails twice)", u, kDemoFlaky), f);
    json p = Activity(run, ++n, u, kDemoPoison);
    s.dlq[p["eventId"]] = "BUSINESS_LOGIC";
    post(fmt::format("{} {} (storage refuses it)", u, kDemoPoison), p);
  }
  // Two stored events delivered again (as after a producer retry whose
  // acknowledgement was lost): the store keeps one copy.
  s.redeliver = {s.stored.at(fmt::format("evt_{}_002", run)),
                 s.stored.at(fmt::format("evt_{}_007", run))};
  // A record written around the API that breaks the schema: the consumer's
  // own validation dead-letters it.
  s.schema_poison = Activity(run, ++n, "user1", "login");
  s.schema_poison["version"] = "9.9";
  s.dlq[s.schema_poison["eventId"]] = "SCHEMA_VALIDATION";
  return s;
}

struct RunArgs {
  std::string store;
  bool analytics = false;
  std::vector<std::string> failures = kDemoFailures;
  std::string listen = "127.0.0.1:0";
  int timeout_s = 120;
  std::string spool_dir;
};

int RunCommand(const CommonOptions& c, const RunArgs& a) {
  const auto started = std::chrono::steady_clock::now();
  Setup s = Connect(c);
  PrintCluster(s);
  auto store = OpenStore(s, a.store);
  auto publisher = MakePublisher(s, StatePath(s.topology, a.spool_dir, "spool/run"));
  weir::http::ServerOptions so;
  so.listen = a.listen;
  auto server = weir::http::Server::Start(so, publisher.get(), nullptr);
  if (!server.ok()) throw CommandError{kExitFailed, server.status().ToString()};

  const std::vector<FailureRule> failures = ParseRules(a.failures);
  auto consumer = StartConsumer(s, store.get(), publisher.get(), a.analytics, failures);
  const std::string run = weir::NewUuidV4().substr(0, 8);
  fmt::print(
      "run {}: API http://{}/v1/events/{}; consumer group {} -> {}; DLQ {}; analytics {}; "
      "injected storage failures: {}\n",
      run, (*server)->address(), activity_logs::kActivityEvent, activity_logs::kProcessorGroup,
      store->Describe(), activity_logs::kDlqTopic,
      a.analytics ? activity_logs::kAnalyticsTopic : "off", RulesText(failures));
  std::fflush(stdout);

  std::vector<std::string> problems;
  const Script script = MakeScript(run);
  httplib::Client http("127.0.0.1", (*server)->port());
  http.set_read_timeout(60, 0);
  size_t accepted_requests = 0, refused_requests = 0;
  for (const Request& r : script.requests) {
    auto res = http.Post(fmt::format("/v1/events/{}", activity_logs::kActivityEvent), r.body,
                         r.ndjson ? "application/x-ndjson" : "application/json");
    if (!res) {
      problems.push_back(fmt::format("POST {}: {}", r.what, httplib::to_string(res.error())));
      continue;
    }
    const json body = json::parse(res->body, nullptr, false);
    std::string detail;
    if (res->status == 202) {
      ++accepted_requests;
      detail = fmt::format("{} delivered, {} spooled, {} duplicate(s)", body.value("delivered", 0),
                           body.value("spooled", 0), body.value("duplicates", 0));
      if (body.value("duplicates", 0) != r.expect_duplicates) {
        problems.push_back(fmt::format("POST {}: {} duplicate(s), expected {}", r.what,
                                       body.value("duplicates", 0), r.expect_duplicates));
      }
    } else {
      ++refused_requests;
      detail = body.value("message", res->body);
      if (body.contains("errors") && !body["errors"].empty()) {
        const json& e = body["errors"][0];
        detail += fmt::format(" — line {}: {} {}", e.value("line", 0), e.value("pointer", ""),
                              e.value("message", ""));
      }
    }
    Say(fmt::format("POST {:<46} -> {} {}", r.what, res->status, detail));
    if (res->status != r.expect_status) {
      problems.push_back(fmt::format("POST {}: HTTP {}, expected {}: {}", r.what, res->status,
                                     r.expect_status, res->body));
    }
  }
  // Around the API: two redeliveries and one record that breaks the schema.
  {
    auto producer = weir::kafka::Producer::Create(s.conn.config);
    if (!producer.ok()) throw CommandError{kExitFailed, producer.status().ToString()};
    std::vector<json> raw = script.redeliver;
    raw.push_back(script.schema_poison);
    for (const json& e : raw) {
      const std::string key = e["userId"], value = e.dump();
      const weir::HeaderView type{"weir-event-type",
                                  std::string_view(activity_logs::kActivityEvent)};
      weir::kafka::ProduceRequest req;
      req.topic = activity_logs::kActivityTopic;
      req.key = key;
      req.value = value;
      req.headers = std::span<const weir::HeaderView>(&type, 1);
      const weir::kafka::DeliveryReport rep = (*producer)->Send(req).get();
      Say(fmt::format("produced {} around the API -> {} [{}] offset {}: {}",
                      e["eventId"].get<std::string>(), rep.topic, rep.partition.value(),
                      rep.offset.value(), rep.status.ok() ? "ok" : rep.status.ToString()));
      if (!rep.status.ok()) problems.push_back(rep.status.ToString());
    }
    Check((*producer)->Close(seconds(10)), "closing the producer");
  }

  // Wait until every event is stored or dead-lettered.
  const auto deadline = std::chrono::steady_clock::now() + seconds(a.timeout_s);
  std::map<std::string, int> stored_count;
  std::vector<activity_logs::StoredActivity> mine;
  bool done = false;
  while (!done && !StopRequested() && std::chrono::steady_clock::now() < deadline) {
    auto all = store->All();
    if (all.ok()) {
      stored_count.clear();
      mine.clear();
      for (const auto& sa : *all) {
        if (script.stored.count(sa.event_id) || script.refused.count(sa.event_id) ||
            script.dlq.count(sa.event_id)) {
          ++stored_count[sa.event_id];
          mine.push_back(sa);
        }
      }
      const auto gs = consumer->GroupStats();
      done = stored_count.size() >= script.stored.size() && gs.dead_lettered >= script.dlq.size() &&
             gs.in_flight == 0;
    }
    if (!done) std::this_thread::sleep_for(milliseconds(100));
  }
  if (!done) {
    problems.push_back(
        fmt::format("not everything was stored or dead-lettered within {} s", a.timeout_s));
  }

  // This run's dead letters, in the seed's shape.
  std::map<std::string, json> dead;
  {
    auto client = weir::ops::DlqClient::Open(s.conn.config);
    if (!client.ok()) throw CommandError{kExitFailed, client.status().ToString()};
    Check((*client)->AddTopic(activity_logs::kDlqTopic), "reading the DLQ");
    auto scan = (*client)->Scan({});
    if (!scan.ok()) throw CommandError{kExitFailed, scan.status().ToString()};
    for (const weir::ops::DlqEntry& e : scan->entries) {
      json seed = activity_logs::SeedDeadLetter(e.dead_letter);
      const std::string id = seed["value"].value("eventId", "");
      if (script.dlq.count(id) || script.stored.count(id)) dead[id] = seed;
    }
  }

  // The checks.
  for (const auto& [id, event] : script.stored) {
    auto it = stored_count.find(id);
    if (it == stored_count.end()) {
      problems.push_back(fmt::format("{} was accepted but is not stored", id));
    }
  }
  for (const auto& sa : mine) {
    auto want = script.stored.find(sa.event_id);
    if (want == script.stored.end()) {
      problems.push_back(fmt::format("{} is stored but must not be", sa.event_id));
    } else if (json::parse(sa.document, nullptr, false) != want->second) {
      problems.push_back(fmt::format("{} is stored as {}, posted as {}", sa.event_id, sa.document,
                                     want->second.dump()));
    }
  }
  for (const auto& [id, type] : script.dlq) {
    auto it = dead.find(id);
    if (it == dead.end()) {
      problems.push_back(fmt::format("{} is not in {}", id, activity_logs::kDlqTopic));
      continue;
    }
    const json& d = it->second;
    if (d["value"]["error"]["code"] != type ||
        d["headers"]["originalTopic"] != activity_logs::kActivityTopic) {
      problems.push_back(fmt::format("{} dead letter: {}", id, d.dump()));
    }
  }
  for (const auto& [id, d] : dead) {
    if (!script.dlq.count(id))
      problems.push_back(fmt::format("{} dead-lettered: {}", id, d.dump()));
  }

  (*server)->Stop();
  const auto st = consumer->Stats();
  const auto gs = consumer->GroupStats();
  const weir::Status e1 = consumer->Stop(seconds(10));
  const weir::publish::PublisherStats ps = publisher->Stats();
  const weir::Status e2 = publisher->Close(seconds(30));
  for (const weir::Status* e : {&e1, &e2}) {
    if (!e->ok()) problems.push_back(e->ToString());
  }

  fmt::print("\n== dead letters of this run (the seed's DLQ message shape) ==\n");
  for (const auto& [id, d] : dead) fmt::print("{}\n", d.dump());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("\n== Activity logs summary (run {}) ==\n", run);
  fmt::print("API requests          {}: {} accepted (202), {} refused (400)\n",
             script.requests.size(), accepted_requests, refused_requests);
  fmt::print(
      "publisher             {} events delivered, {} spooled, {} duplicates dropped, {} "
      "refused (the API's events and, with --analytics, the analytics events)\n",
      ps.delivered, ps.spooled, ps.duplicates, ps.refused);
  fmt::print(
      "consumer              {} records; {} stored, {} redelivered and not stored again, "
      "{} retries ({} injected failures), {} dead-lettered\n",
      gs.received, st.stored, st.already_stored, gs.retries, st.injected_failures,
      gs.dead_lettered);
  fmt::print("store                 {}: {} of {} accepted events of this run, each once\n",
             store->Describe(), stored_count.size(), script.stored.size());
  fmt::print("DLQ                   {} of {} expected dead letters of this run\n", dead.size(),
             script.dlq.size());
  if (a.analytics) {
    fmt::print(
        "analytics             {} events accepted for {} (a redelivered activity's copy is "
        "dropped by the publisher's dedup on eventId)\n",
        st.analytics_published, activity_logs::kAnalyticsTopic);
  }
  fmt::print("time                  {:.1f} s\n", secs);
  if (problems.empty()) {
    fmt::print(
        "check                 ok: every accepted event stored once with its JSON, no refused "
        "event stored, the poison events in the DLQ with their provenance\n");
  }
  for (const std::string& p : problems) fmt::print(stderr, "problem: {}\n", p);
  return problems.empty() ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace weir::examples

int main(int argc, char** argv) {
  using namespace weir::examples;
  CommonOptions common;
  CLI::App app{
      "weir-activity-logs: the activity logs design on weir — a REST API producer, a "
      "document-store consumer (SQLite or PostgreSQL JSONB) with retries and a DLQ, and an "
      "optional analytics stream"};
  AddCommonOptions(app, kProgram, &common);
  const std::string store_help =
      "The document store: a SQLite file, or postgresql://USER[:PASSWORD]@HOST:PORT/DB "
      "(JSONB); default .weir/activity-logs/activity.sqlite beside weir.yaml";
  const std::string failure_help =
      "Demo switch: make storing events of activityType ACTIVITY fail, "
      "ACTIVITY:transient[:TIMES] (retried per the policy; TIMES attempts, default all) or "
      "ACTIVITY:permanent (to the DLQ at once); repeatable";

  std::string listen = "127.0.0.1:8080", token, spool_dir;
  int duration_s = 0;
  CLI::App* api = app.add_subcommand(
      "api", "Run the REST API producer: POST /v1/events/UserActivity -> user-activity-logs");
  api->add_option("--listen", listen, "host:port to serve on")->capture_default_str();
  api->add_option("--token", token, "Require Authorization: Bearer TOKEN");
  api->add_option("--duration", duration_s, "Stop after this many seconds (0 = Ctrl-C only)");
  api->add_option("--spool-dir", spool_dir,
                  "The publisher's spool (events kept while Kafka is "
                  "unreachable)");

  ConsumerArgs consumer_args;
  CLI::App* consumer = app.add_subcommand(
      "consumer", "Run group user-activity-processor: store each event once, DLQ after retries");
  consumer->add_option("--store", consumer_args.store, store_help);
  consumer->add_flag("--analytics", consumer_args.analytics,
                     "Publish a derived event per stored activity to user-activity-analytics");
  consumer->add_option("--inject-failure", consumer_args.failures, failure_help);
  consumer->add_option("--duration", consumer_args.duration_s,
                       "Stop after this many seconds (0 = Ctrl-C only)");
  consumer->add_option("--spool-dir", consumer_args.spool_dir, "The analytics publisher's spool");

  int64_t limit = 0;
  CLI::App* dead =
      app.add_subcommand("dead-letters",
                         "Print the dead letters of user-activity-logs-dlq in the seed's shape, "
                         "one JSON object per line");
  dead->add_option("--limit", limit, "At most this many (0 = all)");

  RunArgs run_args;
  CLI::App* run = app.add_subcommand(
      "run",
      "The one command: embedded broker, API and consumer in one process, scripted requests "
      "(duplicates, bad requests, failing storage), checked; exit 1 on a mismatch");
  run->add_option("--store", run_args.store, store_help);
  run->add_flag("--analytics", run_args.analytics,
                "Publish a derived event per stored activity to user-activity-analytics");
  run->add_option("--inject-failure", run_args.failures, failure_help + " (replaces the demo's)")
      ->capture_default_str();
  run->add_option("--listen", run_args.listen, "host:port of the API (port 0: any free one)")
      ->capture_default_str();
  run->add_option("--timeout", run_args.timeout_s,
                  "Give up waiting for the events to be stored after this many seconds")
      ->capture_default_str();
  run->add_option("--spool-dir", run_args.spool_dir, "The publisher's spool");

  return RunProgram(app, kProgram, common, argc, argv, [&] {
    if (api->parsed()) return ApiCommand(common, listen, token, duration_s, spool_dir);
    if (consumer->parsed()) return ConsumerCommand(common, consumer_args);
    if (dead->parsed()) return DeadLettersCommand(common, limit);
    return RunCommand(common, run_args);
  });
}
