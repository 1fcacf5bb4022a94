// weir's own registry (a folder): ids, versions, idempotence, compatibility,
// soft deletes, JSON Schema subjects, concurrency and damaged files.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "registry/registry_internal.h"
#include "support/test_support.h"
#include "weir/registry/registry.h"
#include "weir/topology.h"

namespace weir::registry {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A record with |extra| appended to its fields.
Schema Plate(const std::string& extra = "") {
  return {SchemaType::kAvro, R"({"type":"record","name":"Plate","namespace":"alpr","fields":[)"
                             R"({"name":"plate","type":"string"},{"name":"speed","type":"int"})" +
                                 extra + "]}"};
}

std::unique_ptr<Registry> Open(const TempDir& dir,
                               CompatibilityLevel level = CompatibilityLevel::kBackward) {
  auto r = OpenLocalRegistry(dir.path() + "/reg", level);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(LocalRegistry, RegisterIsIdempotentAndIdsSurviveReopening) {
  TempDir dir;
  int32_t id = 0;
  {
    auto reg = Open(dir);
    auto r = reg->Register("plates-value", Plate());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->version, 1);
    EXPECT_EQ(r->id, 1);
    id = r->id;
    // Whitespace and member order do not make a new schema.
    Schema spaced = Plate();
    spaced.text = "  \n" + spaced.text + "\n";
    auto again = reg->Register("plates-value", spaced);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->id, id);
    EXPECT_EQ(again->version, 1);
    auto v2 =
        reg->Register("plates-value", Plate(R"(,{"name":"colour","type":"string","default":""})"));
    ASSERT_TRUE(v2.ok()) << v2.status().ToString();
    EXPECT_EQ(v2->version, 2);
    EXPECT_EQ(v2->id, 2);
  }
  auto reg = Open(dir);
  auto r = reg->Register("plates-value", Plate());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, id);
  EXPECT_EQ(r->version, 1);
  auto latest = reg->GetVersion("plates-value", kLatestVersion);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->id, 2);
  auto by_id = reg->GetById(id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->text, NormalizeSchema(Plate())->text);
  // The files are readable by people: pretty JSON named by id.
  std::string file = testing::ReadFile(dir.path() + "/reg/schemas/1.avsc");
  EXPECT_NE(file.find("\"name\": \"alpr.Plate\""), std::string::npos) << file;
  std::string subject = testing::ReadFile(dir.path() + "/reg/subjects/plates-value.json");
  EXPECT_NE(subject.find("\"subject\": \"plates-value\""), std::string::npos) << subject;
}

TEST(LocalRegistry, OneIdPerSchemaAcrossSubjects) {
  TempDir dir;
  auto reg = Open(dir);
  auto a = reg->Register("a-value", Plate());
  auto b = reg->Register("b-value", Plate());
  auto c = reg->Register("c-value", Schema{SchemaType::kAvro, R"("string")"});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_NE(a->id, c->id);
  EXPECT_EQ(b->version, 1);
  auto subjects = reg->ListSubjects();
  ASSERT_TRUE(subjects.ok());
  EXPECT_EQ(*subjects, (std::vector<std::string>{"a-value", "b-value", "c-value"}));
  auto found = reg->LookUp("b-value", Plate());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, a->id);
  auto missing = reg->LookUp("b-value", Schema{SchemaType::kAvro, R"("long")"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("b-value"), std::string::npos);
  EXPECT_EQ(reg->LookUp("nope", Plate()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->GetById(99).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->GetVersion("a-value", 7).status().code(), StatusCode::kNotFound);
  EXPECT_NE(reg->GetVersion("a-value", 7).status().message().find("version 7"), std::string::npos);
  EXPECT_EQ(reg->ListVersions("nope").status().code(), StatusCode::kNotFound);
  auto avro = reg->GetAvroById(a->id);
  ASSERT_TRUE(avro.ok()) << avro.status().ToString();
  EXPECT_EQ(avro->root().full_name, "alpr.Plate");
}

TEST(LocalRegistry, IncompatibleSchemaIsRefusedNamingKindPathAndVersion) {
  TempDir dir;
  auto reg = Open(dir);
  ASSERT_TRUE(reg->Register("plates-value", Plate()).ok());
  Schema no_default = Plate(R"(,{"name":"colour","type":"string"})");
  auto refused = reg->Register("plates-value", no_default);
  ASSERT_EQ(refused.status().code(), StatusCode::kRefused);
  std::string msg = refused.status().message();
  EXPECT_NE(msg.find("plates-value"), std::string::npos) << msg;
  EXPECT_NE(msg.find("BACKWARD"), std::string::npos) << msg;
  EXPECT_NE(msg.find("version 1 (backward): Plate.colour: reader_field_missing_default"),
            std::string::npos)
      << msg;
  auto check = reg->CheckCompatibility("plates-value", no_default, kAllVersions);
  ASSERT_TRUE(check.ok());
  ASSERT_EQ(check->size(), 1u);
  EXPECT_EQ((*check)[0].kind, "reader_field_missing_default");
  EXPECT_EQ((*check)[0].path, "Plate.colour");
  EXPECT_EQ((*check)[0].version, 1);
  EXPECT_EQ((*check)[0].direction, "backward");
  // Nothing was registered.
  EXPECT_EQ(*reg->ListVersions("plates-value"), std::vector<int32_t>{1});

  // A type change is named by its path too.
  Schema retyped{SchemaType::kAvro,
                 R"({"type":"record","name":"Plate","namespace":"alpr","fields":[)"
                 R"({"name":"plate","type":"string"},{"name":"speed","type":"string"}]})"};
  check = reg->CheckCompatibility("plates-value", retyped, kLatestVersion);
  ASSERT_TRUE(check.ok());
  ASSERT_FALSE(check->empty());
  EXPECT_EQ((*check)[0].kind, "type_mismatch");
  EXPECT_EQ((*check)[0].path, "Plate.speed");

  // At NONE the same schema is accepted; the subject's level beats the global one.
  ASSERT_TRUE(reg->SetCompatibility("plates-value", CompatibilityLevel::kNone).ok());
  EXPECT_EQ(*reg->GetCompatibility("plates-value"), CompatibilityLevel::kNone);
  EXPECT_EQ(*reg->GetCompatibility(""), CompatibilityLevel::kBackward);
  auto accepted = reg->Register("plates-value", no_default);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(accepted->version, 2);
  EXPECT_EQ(reg->CheckCompatibility("nope", Plate(), 1).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(reg->CheckCompatibility("nope", Plate(), kAllVersions)->empty());
}

TEST(LocalRegistry, TransitiveLevelsCheckEveryVersionAndGlobalLevelPersists) {
  TempDir dir;
  {
    auto reg = Open(dir, CompatibilityLevel::kNone);
    ASSERT_TRUE(reg->SetCompatibility("", CompatibilityLevel::kForwardTransitive).ok());
  }
  // The stored global level wins over the default given at open.
  auto reg = Open(dir, CompatibilityLevel::kNone);
  EXPECT_EQ(*reg->GetCompatibility(""), CompatibilityLevel::kForwardTransitive);
  EXPECT_EQ(*reg->GetCompatibility("fresh"), CompatibilityLevel::kForwardTransitive);
  // A history where only the first version objects to the candidate.
  Schema v1{SchemaType::kAvro,
            R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})"};
  Schema v2{SchemaType::kAvro,
            R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":0}]})"};
  Schema v3{SchemaType::kAvro, R"({"type":"record","name":"R","fields":[]})"};
  ASSERT_TRUE(reg->Register("r", v1).ok());
  ASSERT_TRUE(reg->Register("r", v2).ok());
  // v3 drops "a": v2 (which has a default) can read v3's data, v1 cannot.
  auto against_latest = reg->CheckCompatibility("r", v3, kLatestVersion);
  ASSERT_TRUE(against_latest.ok());
  EXPECT_TRUE(against_latest->empty());
  auto all = reg->CheckCompatibility("r", v3, kAllVersions);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].version, 1);
  EXPECT_EQ((*all)[0].direction, "forward");
  EXPECT_EQ(reg->Register("r", v3).status().code(), StatusCode::kRefused);
}

TEST(LocalRegistry, SoftDeletesKeepIdsAndNeverReuseVersions) {
  TempDir dir;
  auto reg = Open(dir, CompatibilityLevel::kNone);
  auto v1 = reg->Register("s", Plate());
  auto v2 = reg->Register("s", Schema{SchemaType::kAvro, R"("string")"});
  ASSERT_TRUE(v1.ok() && v2.ok());
  auto deleted = reg->DeleteVersion("s", kLatestVersion);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(*reg->ListVersions("s"), std::vector<int32_t>{1});
  EXPECT_EQ(reg->GetVersion("s", 2).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(reg->GetById(v2->id).ok());  // ids stay resolvable
  auto all = reg->DeleteSubject("s");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, std::vector<int32_t>{1});
  EXPECT_TRUE(reg->ListSubjects()->empty());
  EXPECT_EQ(reg->DeleteSubject("s").status().code(), StatusCode::kNotFound);
  // Registering again makes a new version with the old id.
  auto again = reg->Register("s", Plate());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, v1->id);
  EXPECT_EQ(again->version, 3);
}

TEST(LocalRegistry, JsonSchemaSubjectsAreValidatedAndChangeOnlyAtNone) {
  TempDir dir;
  auto reg = Open(dir);
  Schema v1{
      SchemaType::kJson,
      R"({"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}})"};
  auto r = reg->Register("logs-value", v1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Member order is kept in the stored text.
  EXPECT_EQ(r->schema.text,
            R"({"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer"}}})");
  EXPECT_EQ(reg->GetAvroById(r->id).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(dir.path() + "/reg/schemas/1.json"));

  Schema v2{SchemaType::kJson, R"({"type": "object", "required": ["a"]})"};
  auto refused = reg->Register("logs-value", v2);
  ASSERT_EQ(refused.status().code(), StatusCode::kRefused);
  EXPECT_NE(refused.status().message().find("json_schema_changed"), std::string::npos);
  EXPECT_NE(refused.status().message().find("NONE"), std::string::npos);
  ASSERT_TRUE(reg->SetCompatibility("logs-value", CompatibilityLevel::kNone).ok());
  EXPECT_TRUE(reg->Register("logs-value", v2).ok());

  auto bad = reg->Register("logs-value", Schema{SchemaType::kJson, R"({"type": 12})"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("invalid JSON schema"), std::string::npos)
      << bad.status().message();
  bad = reg->Register("logs-value", Schema{SchemaType::kJson, "{not json"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);

  // A type change is an incompatibility of its own.
  ASSERT_TRUE(reg->Register("mixed", Plate()).ok());
  auto mixed = reg->CheckCompatibility("mixed", v1, kAllVersions);
  ASSERT_TRUE(mixed.ok());
  ASSERT_EQ(mixed->size(), 1u);
  EXPECT_EQ((*mixed)[0].kind, "schema_type_changed");
}

TEST(LocalRegistry, InvalidInputIsNamed) {
  TempDir dir;
  auto reg = Open(dir);
  auto bad = reg->Register("plates-value", Schema{SchemaType::kAvro, R"({"type":"record"})"});
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("plates-value"), std::string::npos);
  EXPECT_NE(bad.status().message().find("invalid Avro schema"), std::string::npos);
  EXPECT_EQ(reg->Register("", Plate()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reg->Register("a\nb", Plate()).status().code(), StatusCode::kInvalidArgument);
  // Odd subject names are stored under escaped file names and read back.
  ASSERT_TRUE(reg->Register("../etc/passwd", Plate()).ok());
  ASSERT_TRUE(reg->Register(".hidden", Plate()).ok());
  EXPECT_EQ(*reg->ListSubjects(), (std::vector<std::string>{"../etc/passwd", ".hidden"}));
  EXPECT_TRUE(fs::exists(dir.path() + "/reg/subjects/%2E.%2Fetc%2Fpasswd.json"));
}

TEST(LocalRegistry, ConcurrentRegistrationsGetDistinctConsistentIds) {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 15;
  std::vector<std::vector<RegisteredSchema>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread opens the folder itself, as another process would.
      auto reg = OpenLocalRegistry(dir.path() + "/reg", CompatibilityLevel::kNone);
      if (!reg.ok()) {
        errors[t] = reg.status().ToString();
        return;
      }
      for (int i = 0; i < kPerThread; ++i) {
        // A schema of its own, one shared by every thread, into subjects of
        // its own and one shared subject.
        Schema own{SchemaType::kAvro,
                   fmt::format(R"({{"type":"fixed","name":"F{}_{}","size":4}})", t, i)};
        Schema shared{SchemaType::kAvro,
                      fmt::format(R"({{"type":"fixed","name":"Shared{}","size":4}})", i)};
        for (auto [subject, schema] :
             {std::pair{fmt::format("own-{}", t), own}, std::pair{std::string("shared"), own},
              std::pair{fmt::format("own-{}", t), shared}}) {
          auto r = (*reg)->Register(subject, schema);
          if (!r.ok()) {
            errors[t] = r.status().ToString();
            return;
          }
          results[t].push_back(*r);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const std::string& e : errors) ASSERT_EQ(e, "");
  auto reg = Open(dir, CompatibilityLevel::kNone);
  std::map<int32_t, std::string> text_of_id;
  std::map<std::string, int32_t> id_of_text;
  std::set<int32_t> shared_versions;
  for (const auto& rs : results) {
    for (const RegisteredSchema& r : rs) {
      auto stored = reg->GetById(r.id);
      ASSERT_TRUE(stored.ok()) << stored.status().ToString();
      EXPECT_EQ(stored->text, r.schema.text);
      auto [it, inserted] = id_of_text.emplace(r.schema.text, r.id);
      EXPECT_EQ(it->second, r.id) << "one schema, two ids";
      auto [it2, inserted2] = text_of_id.emplace(r.id, r.schema.text);
      EXPECT_EQ(it2->second, r.schema.text) << "one id, two schemas";
      auto v = reg->GetVersion(r.subject, r.version);
      ASSERT_TRUE(v.ok());
      EXPECT_EQ(v->id, r.id);
      if (r.subject == "shared") {
        EXPECT_TRUE(shared_versions.insert(r.version).second);
      }
    }
  }
  EXPECT_EQ(id_of_text.size(), size_t{kThreads * kPerThread + kPerThread});
  // Ids are dense: 1..N with no gaps and no duplicates.
  EXPECT_EQ(text_of_id.begin()->first, 1);
  EXPECT_EQ(text_of_id.rbegin()->first, static_cast<int32_t>(text_of_id.size()));
  EXPECT_EQ(shared_versions.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*shared_versions.rbegin(), kThreads * kPerThread);
}

TEST(LocalRegistry, DamagedFilesAreNamed) {
  TempDir dir;
  {
    auto reg = Open(dir);
    ASSERT_TRUE(reg->Register("plates-value", Plate()).ok());
  }
  std::string root = dir.path() + "/reg";
  {
    std::ofstream(root + "/subjects/plates-value.json") << "{\"subject\": \"plates-value\", \"vers";
    auto reg = Open(dir);
    auto r = reg->GetVersion("plates-value", kLatestVersion);
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("subjects/plates-value.json"), std::string::npos)
        << r.status().message();
    EXPECT_EQ(reg->ListSubjects().status().code(), StatusCode::kCorruption);
    std::ofstream(root + "/subjects/plates-value.json")
        << R"({"subject": "plates-value", "versions": [{"version": 1, "id": 1}]})";
  }
  {
    std::ofstream(root + "/schemas/1.avsc") << R"({"type": "record", "name": "X", "fields": 3})";
    auto reg = Open(dir);
    auto r = reg->GetById(1);
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("schemas/1.avsc"), std::string::npos)
        << r.status().message();
    auto v = reg->GetVersion("plates-value", 1);
    EXPECT_EQ(v.status().code(), StatusCode::kCorruption);
    EXPECT_NE(v.status().message().find("version 1"), std::string::npos);
    fs::remove(root + "/schemas/1.avsc");
    std::ofstream(root + "/schemas/notes.txt") << "hello";
    auto reg2 = Open(dir);
    auto w = reg2->Register("other", Schema{SchemaType::kAvro, R"("int")"});
    ASSERT_EQ(w.status().code(), StatusCode::kCorruption);
    EXPECT_NE(w.status().message().find("schemas/notes.txt"), std::string::npos);
  }
  std::ofstream(root + "/registry.json") << "garbage";
  auto reopened = OpenLocalRegistry(root, CompatibilityLevel::kBackward);
  ASSERT_EQ(reopened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(reopened.status().message().find("registry.json"), std::string::npos);
  std::ofstream(root + "/registry.json") << R"({"format": "weir-schema-registry", "version": 9})";
  reopened = OpenLocalRegistry(root, CompatibilityLevel::kBackward);
  EXPECT_EQ(reopened.status().code(), StatusCode::kUnsupported);
}

// Every schema of the seed systems registers (Avro parsed, JSON Schema
// checked against its meta-schema) and registering it again changes nothing.
TEST(LocalRegistry, EverySeedSchemaRegisters) {
  TempDir dir;
  auto reg = Open(dir);
  int count = 0;
  for (const char* example : {"alpr", "fleetops", "deeplens", "activity-logs"}) {
    for (const auto& entry : fs::directory_iterator(
             testing::SourcePath(std::string("examples/") + example + "/schemas"))) {
      if (!entry.is_regular_file()) continue;
      auto type = SchemaTypeOfFile(entry.path().string());
      ASSERT_TRUE(type.ok()) << type.status().ToString();
      Schema schema{*type, testing::ReadFile(entry.path().string())};
      std::string subject = entry.path().filename().string();
      auto r = reg->Register(subject, schema);
      ASSERT_TRUE(r.ok()) << entry.path() << ": " << r.status().ToString();
      auto again = reg->Register(subject, schema);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again->id, r->id);
      ++count;
    }
  }
  EXPECT_GE(count, 15);
}

TEST(Registry, NamesAndOpenRegistry) {
  EXPECT_EQ(TopicValueSubject("alpr.events.plates"), "alpr.events.plates-value");
  EXPECT_EQ(TopicKeySubject("t"), "t-key");
  EXPECT_EQ(*SchemaTypeOfFile("a/b.avsc"), SchemaType::kAvro);
  EXPECT_EQ(*SchemaTypeOfFile("b.json"), SchemaType::kJson);
  EXPECT_EQ(SchemaTypeOfFile("b.yaml").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSchemaType("PROTOBUF").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseVersion("latest"), kLatestVersion);
  EXPECT_EQ(*ParseVersion("-1"), kLatestVersion);
  EXPECT_EQ(*ParseVersion("12"), 12);
  for (const char* bad : {"0", "-2", "abc", "", "1x", "2147483648", "+3"}) {
    EXPECT_FALSE(ParseVersion(bad).has_value()) << bad;
  }
  Incompatibility i{"type_mismatch", "R.a", "expected int", 2, "backward"};
  EXPECT_EQ(i.ToString(), "version 2 (backward): R.a: type_mismatch: expected int");

  TempDir dir;
  RegistrySpec spec;
  spec.folder = "schemas-here";
  spec.compatibility = "FULL";
  auto reg = OpenRegistry(spec, dir.path());
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(*(*reg)->GetCompatibility(""), CompatibilityLevel::kFull);
  EXPECT_TRUE(fs::exists(dir.path() + "/schemas-here/registry.json"));
  EXPECT_NE((*reg)->Describe().find("schemas-here"), std::string::npos);
  spec.compatibility = "SIDEWAYS";
  EXPECT_EQ(OpenRegistry(spec, dir.path()).status().code(), StatusCode::kInvalidArgument);
  spec.url = "ftp://x";
  EXPECT_EQ(OpenRegistry(spec, dir.path()).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::registry
