// `weir schema list|register|check|show`: the registry named by weir.yaml's
// `registry:` section (a local folder by default, or a Confluent Schema
// Registry by url).
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "weir/registry/registry.h"

namespace weir::cli {
namespace {

using registry::Registry;

struct SchemaOptions {
  std::vector<std::string> args;
  std::string topic;
  bool key = false;
  bool all = false;
  std::string type;  // "avro" | "json" | "" (from the extension)
  std::string version = "all";
};

[[noreturn]] void Fail(const Status& s, std::string_view context = {}) {
  throw CliError{ExitCodeFor(s),
                 context.empty() ? s.message() : fmt::format("{}: {}", context, s.message())};
}

std::unique_ptr<Registry> OpenOrDie(const Topology& topo) {
  auto r = registry::OpenRegistry(topo.registry, topo.folder);
  if (!r.ok()) Fail(r.status());
  return std::move(r).value();
}

registry::Schema ReadSchemaFile(const std::string& path, const std::string& type_option) {
  registry::Schema schema;
  if (!type_option.empty()) {
    schema.type = type_option == "json" ? registry::SchemaType::kJson : registry::SchemaType::kAvro;
  } else {
    auto type = registry::SchemaTypeOfFile(path);
    if (!type.ok()) throw CliError{kExitBadInput, type.status().message() + " (or pass --type)"};
    schema.type = *type;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw CliError{kExitBadInput, fmt::format("cannot read {}: {}", path, std::strerror(errno))};
  std::ostringstream ss;
  ss << in.rdbuf();
  schema.text = ss.str();
  return schema;
}

// Says plainly what weir does not check.
void NoteJsonSubject(const registry::Schema& schema, std::string_view subject) {
  if (schema.type != registry::SchemaType::kJson) return;
  std::cerr << fmt::format(
      "weir: note: {} holds JSON Schema; weir checks compatibility of Avro schemas only, so a "
      "changed JSON schema is refused unless the subject's compatibility level is NONE\n",
      subject);
}

// The subject named by SUBJECT or by --topic (TopicNameStrategy), and the
// positional arguments left after it.
std::string SubjectOf(const SchemaOptions& o, std::vector<std::string>* rest) {
  *rest = o.args;
  if (!o.topic.empty()) {
    return o.key ? registry::TopicKeySubject(o.topic) : registry::TopicValueSubject(o.topic);
  }
  if (o.key) throw CliError{kExitBadInput, "--key needs --topic"};
  if (rest->empty()) throw CliError{kExitBadInput, "name a SUBJECT (or pass --topic TOPIC)"};
  std::string subject = rest->front();
  rest->erase(rest->begin());
  return subject;
}

void RunList(const GlobalOptions& g) {
  Topology topo = LoadTopologyOrDie(g);
  auto reg = OpenOrDie(topo);
  auto subjects = reg->ListSubjects();
  if (!subjects.ok()) Fail(subjects.status());
  std::cout << fmt::format("{:<48} {:>7} {:>6}  {}\n", "SUBJECT", "VERSION", "ID", "TYPE");
  for (const std::string& subject : *subjects) {
    auto latest = reg->GetVersion(subject, registry::kLatestVersion);
    if (!latest.ok()) {
      // Deleted between the two calls, or damaged: say so, keep listing.
      std::cerr << fmt::format("weir: {}: {}\n", subject, latest.status().message());
      continue;
    }
    std::cout << fmt::format("{:<48} {:>7} {:>6}  {}\n", subject, latest->version, latest->id,
                             registry::SchemaTypeName(latest->schema.type));
  }
  if (subjects->empty()) std::cerr << fmt::format("weir: {} has no subjects\n", reg->Describe());
}

void RegisterOne(Registry& reg, const std::string& subject, const std::string& file,
                 const registry::Schema& schema, std::string_view label = {}) {
  auto r = reg.Register(subject, schema);
  if (!r.ok()) Fail(r.status(), file);
  NoteJsonSubject(schema, subject);
  std::cout << fmt::format("{}  version {}  id {}{}\n", subject, r->version, r->id,
                           label.empty() ? std::string() : fmt::format("  ({})", label));
}

// Every event type's schema file under "<topic>-value" of each topic it is
// routed (or mirrored) to. A topic fed by two event types cannot follow
// TopicNameStrategy (one schema per topic), so that is refused up front.
void RunRegisterAll(const GlobalOptions& g, const SchemaOptions& o) {
  if (!o.args.empty() || !o.topic.empty()) {
    throw CliError{kExitBadInput,
                   "--all registers what weir.yaml declares: give no SUBJECT, "
                   "FILE or --topic with it"};
  }
  Topology topo = LoadTopologyOrDie(g);
  std::map<std::string, const EventTypeSpec*> by_topic;
  std::vector<std::pair<std::string, const EventTypeSpec*>> work;
  for (const EventTypeSpec& et : topo.event_types) {
    if (et.schema.empty()) continue;
    std::vector<std::string> topics = et.topics;
    if (!et.mirror_topic.empty()) topics.push_back(et.mirror_topic);
    for (const std::string& topic : topics) {
      auto [it, inserted] = by_topic.emplace(topic, &et);
      if (!inserted && it->second->schema != et.schema) {
        throw CliError{kExitBadInput,
                       fmt::format("{}: topic {} carries event types {} ({}) and {} ({}); the "
                                   "subject {} can hold only one of their schemas",
                                   topo.path, topic, it->second->name, it->second->schema, et.name,
                                   et.schema, registry::TopicValueSubject(topic))};
      }
      if (inserted) work.emplace_back(topic, &et);
    }
  }
  if (work.empty()) {
    std::cerr << fmt::format(
        "weir: no event type in {} declares a schema file; nothing to "
        "register\n",
        topo.path);
    return;
  }
  auto reg = OpenOrDie(topo);
  for (const auto& [topic, et] : work) {
    std::string file = (std::filesystem::path(topo.folder) / et->schema).string();
    registry::Schema schema =
        ReadSchemaFile(file, et->format == EventFormat::kAvro ? "avro" : "json");
    RegisterOne(*reg, registry::TopicValueSubject(topic), file, schema, et->name);
  }
}

void RunRegister(const GlobalOptions& g, const SchemaOptions& o) {
  if (o.all) return RunRegisterAll(g, o);
  std::vector<std::string> rest;
  std::string subject = SubjectOf(o, &rest);
  if (rest.size() != 1) {
    throw CliError{kExitBadInput, "register needs SUBJECT FILE, --topic TOPIC FILE, or --all"};
  }
  registry::Schema schema = ReadSchemaFile(rest[0], o.type);
  Topology topo = LoadTopologyOrDie(g);
  auto reg = OpenOrDie(topo);
  RegisterOne(*reg, subject, rest[0], schema);
}

void RunCheck(const GlobalOptions& g, const SchemaOptions& o) {
  std::vector<std::string> rest;
  std::string subject = SubjectOf(o, &rest);
  if (rest.size() != 1)
    throw CliError{kExitBadInput, "check needs SUBJECT FILE or --topic TOPIC FILE"};
  int32_t version = registry::kAllVersions;
  if (o.version != "all") {
    auto v = o.version == "latest" ? std::optional<int32_t>(registry::kLatestVersion)
                                   : std::optional<int32_t>();
    if (!v) {
      int32_t n = 0;
      auto [end, ec] = std::from_chars(o.version.data(), o.version.data() + o.version.size(), n);
      if (ec == std::errc() && end == o.version.data() + o.version.size() && n >= 1) v = n;
    }
    if (!v) {
      throw CliError{
          kExitBadInput,
          fmt::format("--version {}: expected all, latest or a version number >= 1", o.version)};
    }
    version = *v;
  }
  registry::Schema schema = ReadSchemaFile(rest[0], o.type);
  Topology topo = LoadTopologyOrDie(g);
  auto reg = OpenOrDie(topo);
  auto level = reg->GetCompatibility(subject);
  if (!level.ok()) Fail(level.status());
  auto problems = reg->CheckCompatibility(subject, schema, version);
  if (!problems.ok()) Fail(problems.status(), rest[0]);
  NoteJsonSubject(schema, subject);
  std::string level_name(schema::AvroCompatibilityName(*level));
  if (problems->empty()) {
    std::cout << fmt::format("{}: compatible with {} under {}\n", rest[0], subject, level_name);
    return;
  }
  for (const registry::Incompatibility& p : *problems) std::cout << p.ToString() << "\n";
  throw CliError{kExitFailed,
                 fmt::format("{}: {} incompatibilit{} with {} under {}", rest[0], problems->size(),
                             problems->size() == 1 ? "y" : "ies", subject, level_name)};
}

void RunShow(const GlobalOptions& g, const SchemaOptions& o) {
  if (o.args.empty() || o.args.size() > 2) {
    throw CliError{kExitBadInput, "show needs SUBJECT [VERSION]"};
  }
  int32_t version = registry::kLatestVersion;
  if (o.args.size() == 2 && o.args[1] != "latest") {
    int32_t n = 0;
    const std::string& v = o.args[1];
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < 1) {
      throw CliError{kExitBadInput,
                     fmt::format("VERSION {}: expected latest or a version number >= 1", v)};
    }
    version = n;
  }
  Topology topo = LoadTopologyOrDie(g);
  auto reg = OpenOrDie(topo);
  auto r = reg->GetVersion(o.args[0], version);
  if (!r.ok()) Fail(r.status());
  auto level = reg->GetCompatibility(o.args[0]);
  std::cout << fmt::format("subject: {}\nversion: {}\nid: {}\ntype: {}\n", r->subject, r->version,
                           r->id, registry::SchemaTypeName(r->schema.type));
  if (level.ok())
    std::cout << fmt::format("compatibility: {}\n", schema::AvroCompatibilityName(*level));
  auto doc = nlohmann::ordered_json::parse(r->schema.text, nullptr, false);
  std::cout << (doc.is_discarded() ? r->schema.text : doc.dump(2)) << "\n";
}

}  // namespace

void RegisterSchemaCommands(CLI::App& app, const GlobalOptions& g) {
  CLI::App* schema = app.add_subcommand(
      "schema",
      "The schema registry named by weir.yaml's `registry:` (a local folder, default "
      ".weir/registry, or a Confluent Schema Registry url)");
  schema->require_subcommand(1);

  CLI::App* list =
      schema->add_subcommand("list", "List the subjects with their latest version, id and type");
  list->callback([&g] { RunList(g); });

  auto reg_o = std::make_shared<SchemaOptions>();
  CLI::App* reg = schema->add_subcommand(
      "register",
      "Register a schema file and print its subject, version and id. Idempotent: the same "
      "schema again prints the same id. Exit 3 when the subject's compatibility level refuses "
      "it (each incompatibility is named), 2 for an unreadable or invalid file.");
  reg->add_option("args", reg_o->args,
                  "SUBJECT FILE; with --topic just FILE; with --all nothing. The type comes from "
                  "the extension: .avsc Avro, .json JSON Schema");
  reg->add_option("-t,--topic", reg_o->topic,
                  "Register under the topic's subject, TOPIC-value (TopicNameStrategy)");
  reg->add_flag("--key", reg_o->key, "With --topic: TOPIC-key instead of TOPIC-value");
  reg->add_flag("--all", reg_o->all,
                "Register the schema file of every event type in weir.yaml under TOPIC-value "
                "of each topic it is routed or mirrored to");
  reg->add_option("--type", reg_o->type, "Schema type, when the extension does not say")
      ->check(CLI::IsMember({"avro", "json"}));
  reg->callback([&g, reg_o] { RunRegister(g, *reg_o); });

  auto check_o = std::make_shared<SchemaOptions>();
  CLI::App* check = schema->add_subcommand(
      "check",
      "Check a schema file against a subject's versions under the subject's compatibility "
      "level, without registering it. Prints each incompatibility with its version, direction "
      "and path, and exits 1 when there is any.");
  check->add_option("args", check_o->args, "SUBJECT FILE; with --topic just FILE");
  check->add_option("-t,--topic", check_o->topic, "Check against TOPIC-value");
  check->add_flag("--key", check_o->key, "With --topic: TOPIC-key instead of TOPIC-value");
  check
      ->add_option("--version", check_o->version,
                   "all (what register would check: the latest version, or every version at "
                   "the transitive levels), latest, or a version number")
      ->capture_default_str();
  check->add_option("--type", check_o->type, "Schema type, when the extension does not say")
      ->check(CLI::IsMember({"avro", "json"}));
  check->callback([&g, check_o] { RunCheck(g, *check_o); });

  auto show_o = std::make_shared<SchemaOptions>();
  CLI::App* show = schema->add_subcommand(
      "show", "Print a subject's version (default latest): its id, type, level and schema");
  show->add_option("args", show_o->args, "SUBJECT [VERSION]");
  show->callback([&g, show_o] { RunShow(g, *show_o); });
}

}  // namespace weir::cli
