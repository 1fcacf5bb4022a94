// weir's own registry: a folder of human-readable files (layout in
// docs/registry.md and README.md beside this file).
//
//   <folder>/registry.json         {"format": "weir-schema-registry", "version": 1}
//   <folder>/registry.lock         flock(): shared for reads, exclusive for changes
//   <folder>/config.json           {"compatibility": "FULL"} once the global level is set
//   <folder>/schemas/<id>.avsc     the schema with global id <id> (or <id>.json)
//   <folder>/subjects/<name>.json  {"subject", "compatibility"?, "versions": [...]}
//
// Schema files are written once and never change, so what was read of them is
// cached for the life of the object. Subject and config files are read afresh
// under the lock on every call, so that changes made by other processes are
// seen at once.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "common/file_util.h"
#include "registry/registry_internal.h"

namespace weir::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr std::string_view kFormatName = "weir-schema-registry";
constexpr int kFormatVersion = 1;

// Holds flock() on the registry's lock file while alive. Each holder opens the
// file itself: flock() locks belong to the open file description, so two
// threads of one process exclude each other exactly as two processes do.
class FolderLock {
 public:
  FolderLock() = default;
  explicit FolderLock(int fd) : fd_(fd) {}
  FolderLock(FolderLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FolderLock& operator=(FolderLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  int fd_ = -1;
};

// A subject's versions: "deleted" marks Confluent-style soft deletes.
struct VersionEntry {
  int32_t version = 0;
  int32_t id = 0;
  bool deleted = false;
};

struct SubjectRecord {
  std::string subject;
  bool exists = false;  // its file exists
  std::optional<CompatibilityLevel> compatibility;
  std::vector<VersionEntry> versions;  // ascending by version

  std::vector<VersionEntry> Live() const {
    std::vector<VersionEntry> out;
    for (const VersionEntry& v : versions) {
      if (!v.deleted) out.push_back(v);
    }
    return out;
  }
  int32_t NextVersion() const { return versions.empty() ? 1 : versions.back().version + 1; }
};

// Subject names become file names: [A-Za-z0-9._-] stay, everything else
// (and a leading dot) is %XX, so that any subject maps to one safe name.
std::string EscapeSubject(std::string_view subject) {
  std::string out;
  for (size_t i = 0; i < subject.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(subject[i]);
    bool plain = std::isalnum(c) != 0 || c == '_' || c == '-' || (c == '.' && i > 0);
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIo,
                  fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Io(fmt::format("cannot read {}", path.string()));
  return ss.str();
}

// "schemas/12.avsc" → 12 and AVRO; nullopt for names that are not schema files.
std::optional<std::pair<int32_t, SchemaType>> ParseSchemaFileName(const std::string& name) {
  std::string_view n(name);
  SchemaType type;
  if (n.ends_with(".avsc")) {
    type = SchemaType::kAvro;
    n.remove_suffix(5);
  } else if (n.ends_with(".json")) {
    type = SchemaType::kJson;
    n.remove_suffix(5);
  } else {
    return std::nullopt;
  }
  int32_t id = 0;
  auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), id);
  if (ec != std::errc() || end != n.data() + n.size() || id < 1 || n[0] == '0') {
    return std::nullopt;
  }
  return std::make_pair(id, type);
}

std::string SchemaFileName(int32_t id, SchemaType type) {
  return fmt::format("{}.{}", id, type == SchemaType::kAvro ? "avsc" : "json");
}

// A stored schema: its normalised text and, for Avro, the parsed schema.
struct StoredSchema {
  Schema schema;
  std::optional<schema::AvroSchema> avro;
};

class LocalRegistry final : public Registry {
 public:
  LocalRegistry(fs::path root, CompatibilityLevel default_level)
      : root_(std::move(root)), default_level_(default_level) {}

  Status Init();

  std::string Describe() const override { return "local registry " + root_.string(); }

  Result<RegisteredSchema> Register(std::string_view subject, const Schema& schema) override;
  Result<RegisteredSchema> LookUp(std::string_view subject, const Schema& schema) override;
  Result<Schema> GetById(int32_t id) override;
  Result<schema::AvroSchema> GetAvroById(int32_t id) override;
  Result<RegisteredSchema> GetVersion(std::string_view subject, int32_t version) override;
  Result<std::vector<std::string>> ListSubjects() override;
  Result<std::vector<int32_t>> ListVersions(std::string_view subject) override;
  Result<std::vector<Incompatibility>> CheckCompatibility(std::string_view subject,
                                                          const Schema& schema,
                                                          int32_t version) override;
  Result<CompatibilityLevel> GetCompatibility(std::string_view subject) override;
  Status SetCompatibility(std::string_view subject, CompatibilityLevel level) override;
  Result<std::vector<int32_t>> DeleteSubject(std::string_view subject) override;
  Result<int32_t> DeleteVersion(std::string_view subject, int32_t version) override;

 private:
  Result<FolderLock> Lock(bool exclusive) const;
  fs::path SubjectPath(std::string_view subject) const {
    return root_ / "subjects" / (EscapeSubject(subject) + ".json");
  }
  Status CorruptFile(const fs::path& path, std::string_view what) const {
    return Status::Corruption(fmt::format("{}: {}: {}", Describe(), path.string(), what));
  }

  Result<SubjectRecord> ReadSubject(std::string_view subject) const;
  Result<SubjectRecord> ParseSubject(const fs::path& path, std::string_view text) const;
  Status WriteSubject(const SubjectRecord& rec) const;
  Result<CompatibilityLevel> GlobalLevel() const;
  Result<CompatibilityLevel> LevelOf(const SubjectRecord& rec) const;

  // The schema with |id|, from the cache or its file; kNotFound when absent.
  Result<StoredSchema> ReadSchema(int32_t id);
  Result<StoredSchema> LoadSchemaFile(const fs::path& path, SchemaType type) const;
  // Under the exclusive lock: the id of |schema| (normalised), writing a new
  // schema file when no id holds it yet.
  Result<int32_t> FindOrCreateId(const Schema& schema);

  // |rec|'s live version |version| (or kLatestVersion).
  Result<VersionEntry> Resolve(const SubjectRecord& rec, int32_t version) const;
  Result<RegisteredSchema> ToRegistered(const SubjectRecord& rec, const VersionEntry& v);
  // The live version of |rec| holding exactly |normalized|, if any.
  Result<std::optional<RegisteredSchema>> FindLive(const SubjectRecord& rec,
                                                   const Schema& normalized);
  Result<std::vector<Incompatibility>> Check(const SubjectRecord& rec, const Schema& candidate,
                                             int32_t version, CompatibilityLevel level);

  Status SubjectNotFound(std::string_view subject) const {
    return Status::NotFound(fmt::format("{}: subject '{}' not found", Describe(), subject));
  }

  const fs::path root_;
  const CompatibilityLevel default_level_;

  // Guards the caches only; never held while taking the folder lock or
  // during I/O other than what the cached value needs.
  std::mutex mu_;
  std::map<int32_t, StoredSchema> schemas_;  // GUARDED_BY(mu_); immutable entries
  std::map<std::pair<SchemaType, std::string>, int32_t> id_of_;  // GUARDED_BY(mu_)
};

Result<FolderLock> LocalRegistry::Lock(bool exclusive) const {
  fs::path path = root_ / "registry.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Io(
        fmt::format("{}: cannot open {}: {}", Describe(), path.string(), std::strerror(errno)));
  }
  FolderLock lock(fd);
  while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno == EINTR) continue;
    return Status::Io(
        fmt::format("{}: cannot lock {}: {}", Describe(), path.string(), std::strerror(errno)));
  }
  return lock;
}

Status LocalRegistry::Init() {
  std::error_code ec;
  fs::create_directories(root_ / "schemas", ec);
  if (!ec) fs::create_directories(root_ / "subjects", ec);
  if (ec) {
    return Status::Io(fmt::format("{}: cannot create the folder: {}", Describe(), ec.message()));
  }
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/true));
  fs::path marker = root_ / "registry.json";
  auto text = ReadWholeFile(marker);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
    ordered_json j = {{"format", kFormatName}, {"version", kFormatVersion}};
    return WriteFileAtomically(marker, j.dump(2) + "\n");
  }
  if (!text.ok()) return text.status();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("format") ||
      j["format"] != std::string(kFormatName)) {
    return CorruptFile(marker, fmt::format("not a weir schema registry marker (expected "
                                           "{{\"format\": \"{}\", \"version\": {}}})",
                                           kFormatName, kFormatVersion));
  }
  if (!j.contains("version") || j["version"] != kFormatVersion) {
    return Status::Unsupported(fmt::format(
        "{}: {}: format version {} is not supported by this weir (it reads version {})", Describe(),
        marker.string(), j.value("version", nlohmann::json()).dump(), kFormatVersion));
  }
  return Status::Ok();
}

Result<SubjectRecord> LocalRegistry::ParseSubject(const fs::path& path,
                                                  std::string_view text) const {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return CorruptFile(path, "not valid JSON");
  if (!j.is_object()) return CorruptFile(path, "expected a JSON object");
  SubjectRecord rec;
  rec.exists = true;
  auto subject = j.find("subject");
  if (subject == j.end() || !subject->is_string()) {
    return CorruptFile(path, "\"subject\" is missing or not a string");
  }
  rec.subject = subject->get<std::string>();
  if (auto c = j.find("compatibility"); c != j.end() && !c->is_null()) {
    if (!c->is_string()) return CorruptFile(path, "\"compatibility\" is not a string");
    auto level = schema::ParseAvroCompatibility(c->get<std::string>());
    if (!level.ok()) return CorruptFile(path, level.status().message());
    rec.compatibility = *level;
  }
  auto versions = j.find("versions");
  if (versions == j.end() || !versions->is_array()) {
    return CorruptFile(path, "\"versions\" is missing or not an array");
  }
  for (size_t i = 0; i < versions->size(); ++i) {
    const auto& v = (*versions)[i];
    auto field = [&](const char* name) -> std::optional<int32_t> {
      if (!v.is_object()) return std::nullopt;
      auto f = v.find(name);
      if (f == v.end() || !f->is_number_integer()) return std::nullopt;
      int64_t n = f->get<int64_t>();
      if (n < 1 || n > std::numeric_limits<int32_t>::max()) return std::nullopt;
      return static_cast<int32_t>(n);
    };
    auto version = field("version");
    auto id = field("id");
    if (!version || !id) {
      return CorruptFile(path, fmt::format("versions[{}]: expected {{\"version\": N, \"id\": N}} "
                                           "with positive integers",
                                           i));
    }
    if (!rec.versions.empty() && *version <= rec.versions.back().version) {
      return CorruptFile(
          path, fmt::format("versions[{}]: version {} is not above the one before", i, *version));
    }
    bool deleted = false;
    if (auto d = v.find("deleted"); d != v.end()) {
      if (!d->is_boolean()) return CorruptFile(path, fmt::format("versions[{}].deleted", i));
      deleted = d->get<bool>();
    }
    rec.versions.push_back({*version, *id, deleted});
  }
  return rec;
}

Result<SubjectRecord> LocalRegistry::ReadSubject(std::string_view subject) const {
  fs::path path = SubjectPath(subject);
  auto text = ReadWholeFile(path);
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    SubjectRecord rec;
    rec.subject = std::string(subject);
    return rec;
  }
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ParseSubject(path, *text));
  if (rec.subject != subject) {
    return CorruptFile(path,
                       fmt::format("holds subject '{}', expected '{}'", rec.subject, subject));
  }
  return rec;
}

Status LocalRegistry::WriteSubject(const SubjectRecord& rec) const {
  ordered_json j;
  j["subject"] = rec.subject;
  if (rec.compatibility) j["compatibility"] = schema::AvroCompatibilityName(*rec.compatibility);
  j["versions"] = ordered_json::array();
  for (const VersionEntry& v : rec.versions) {
    ordered_json e = {{"version", v.version}, {"id", v.id}};
    if (v.deleted) e["deleted"] = true;
    j["versions"].push_back(std::move(e));
  }
  return WriteFileAtomically(SubjectPath(rec.subject), j.dump(2) + "\n");
}

Result<CompatibilityLevel> LocalRegistry::GlobalLevel() const {
  fs::path path = root_ / "config.json";
  auto text = ReadWholeFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return default_level_;
    return text.status();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("compatibility") ||
      !j["compatibility"].is_string()) {
    return CorruptFile(path, "expected {\"compatibility\": \"LEVEL\"}");
  }
  auto level = schema::ParseAvroCompatibility(j["compatibility"].get<std::string>());
  if (!level.ok()) return CorruptFile(path, level.status().message());
  return *level;
}

Result<CompatibilityLevel> LocalRegistry::LevelOf(const SubjectRecord& rec) const {
  if (rec.compatibility) return *rec.compatibility;
  return GlobalLevel();
}

Result<StoredSchema> LocalRegistry::LoadSchemaFile(const fs::path& path, SchemaType type) const {
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  auto doc = ordered_json::parse(text, nullptr, false);
  if (doc.is_discarded()) return CorruptFile(path, "not valid JSON");
  StoredSchema stored;
  stored.schema = Schema{type, doc.dump()};
  if (type == SchemaType::kAvro) {
    auto parsed = schema::AvroSchema::Parse(stored.schema.text);
    if (!parsed.ok()) {
      return CorruptFile(path, "not a valid Avro schema: " + parsed.status().message());
    }
    // Ids are compared on normalised text: a hand-edited file that is valid
    // but not normalised still serves its id, under its normalised form.
    stored.schema.text = parsed->ToJson();
    stored.avro = std::move(parsed).value();
  } else {
    auto parsed = NormalizeSchema(stored.schema);
    if (!parsed.ok()) {
      return CorruptFile(path, parsed.status().message());
    }
  }
  return stored;
}

Result<StoredSchema> LocalRegistry::ReadSchema(int32_t id) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = schemas_.find(id);
    if (it != schemas_.end()) return it->second;
  }
  std::optional<StoredSchema> found;
  for (SchemaType type : {SchemaType::kAvro, SchemaType::kJson}) {
    fs::path path = root_ / "schemas" / SchemaFileName(id, type);
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    if (found) return CorruptFile(path, fmt::format("a second file for schema id {}", id));
    WEIR_ASSIGN_OR_RETURN(StoredSchema stored, LoadSchemaFile(path, type));
    found = std::move(stored);
  }
  if (!found) {
    return Status::NotFound(fmt::format("{}: schema id {} not found", Describe(), id));
  }
  std::lock_guard<std::mutex> guard(mu_);
  id_of_.emplace(std::make_pair(found->schema.type, found->schema.text), id);
  return schemas_.emplace(id, std::move(*found)).first->second;
}

Result<int32_t> LocalRegistry::FindOrCreateId(const Schema& schema) {
  // Every schema file not yet cached is read, so that the same schema
  // registered by another process under another subject keeps its id.
  int32_t max_id = 0;
  std::error_code ec;
  fs::directory_iterator it(root_ / "schemas", ec);
  if (ec) return Status::Io(fmt::format("{}: cannot list schemas/: {}", Describe(), ec.message()));
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".") || name.ends_with(kTempFileSuffix)) continue;
    auto parsed = ParseSchemaFileName(name);
    if (!parsed) {
      return CorruptFile(entry.path(),
                         "unexpected file in schemas/ (expected <id>.avsc or <id>.json)");
    }
    max_id = std::max(max_id, parsed->first);
    WEIR_RETURN_IF_ERROR(ReadSchema(parsed->first).status());
  }
  {
    std::lock_guard<std::mutex> guard(mu_);
    auto found = id_of_.find(std::make_pair(schema.type, schema.text));
    if (found != id_of_.end()) return found->second;
  }
  if (max_id == std::numeric_limits<int32_t>::max()) {
    return Status::Refused(fmt::format("{}: no schema ids are left", Describe()));
  }
  int32_t id = max_id + 1;
  auto pretty = ordered_json::parse(schema.text, nullptr, false);
  WEIR_RETURN_IF_ERROR(WriteFileAtomically(root_ / "schemas" / SchemaFileName(id, schema.type),
                                           pretty.dump(2) + "\n"));
  std::lock_guard<std::mutex> guard(mu_);
  StoredSchema stored{schema, std::nullopt};
  if (schema.type == SchemaType::kAvro) {
    auto parsed = schema::AvroSchema::Parse(schema.text);
    if (parsed.ok()) stored.avro = std::move(parsed).value();
  }
  schemas_.emplace(id, std::move(stored));
  id_of_.emplace(std::make_pair(schema.type, schema.text), id);
  return id;
}

Result<VersionEntry> LocalRegistry::Resolve(const SubjectRecord& rec, int32_t version) const {
  std::vector<VersionEntry> live = rec.Live();
  if (live.empty()) return SubjectNotFound(rec.subject);
  if (version == kLatestVersion) return live.back();
  for (const VersionEntry& v : live) {
    if (v.version == version) return v;
  }
  return Status::NotFound(
      fmt::format("{}: subject '{}' has no version {}", Describe(), rec.subject, version));
}

Result<std::optional<RegisteredSchema>> LocalRegistry::FindLive(const SubjectRecord& rec,
                                                                const Schema& normalized) {
  for (const VersionEntry& v : rec.Live()) {
    WEIR_ASSIGN_OR_RETURN(RegisteredSchema r, ToRegistered(rec, v));
    if (r.schema.type == normalized.type && r.schema.text == normalized.text) return {std::move(r)};
  }
  return std::optional<RegisteredSchema>();
}

Result<RegisteredSchema> LocalRegistry::ToRegistered(const SubjectRecord& rec,
                                                     const VersionEntry& v) {
  auto stored = ReadSchema(v.id);
  if (!stored.ok()) {
    return stored.status().WithContext(
        fmt::format("subject '{}' version {} names schema id {}", rec.subject, v.version, v.id));
  }
  return RegisteredSchema{rec.subject, v.version, v.id, stored->schema};
}

Result<std::vector<Incompatibility>> LocalRegistry::Check(const SubjectRecord& rec,
                                                          const Schema& candidate, int32_t version,
                                                          CompatibilityLevel level) {
  std::vector<Incompatibility> out;
  if (level == CompatibilityLevel::kNone) return out;
  std::vector<VersionEntry> checked;
  if (version == kAllVersions) {
    checked = rec.Live();
    bool transitive = level == CompatibilityLevel::kBackwardTransitive ||
                      level == CompatibilityLevel::kForwardTransitive ||
                      level == CompatibilityLevel::kFullTransitive;
    if (!transitive && checked.size() > 1) checked.erase(checked.begin(), checked.end() - 1);
  } else {
    WEIR_ASSIGN_OR_RETURN(VersionEntry v, Resolve(rec, version));
    checked.push_back(v);
  }
  std::vector<schema::AvroSchema> avro_history;
  std::vector<int32_t> avro_versions;
  for (const VersionEntry& v : checked) {
    auto stored = ReadSchema(v.id);
    if (!stored.ok()) {
      return stored.status().WithContext(
          fmt::format("subject '{}' version {} names schema id {}", rec.subject, v.version, v.id));
    }
    if (stored->schema.type != candidate.type) {
      out.push_back(
          {"schema_type_changed", "",
           fmt::format("version {} is a {} schema, the new one is {}", v.version,
                       SchemaTypeName(stored->schema.type), SchemaTypeName(candidate.type)),
           v.version, ""});
    } else if (candidate.type == SchemaType::kJson) {
      if (stored->schema.text != candidate.text) {
        out.push_back({"json_schema_changed", "",
                       fmt::format("weir checks the compatibility of Avro schemas only; a changed "
                                   "JSON Schema is accepted only when the subject's compatibility "
                                   "level is NONE (it is {})",
                                   schema::AvroCompatibilityName(level)),
                       v.version, ""});
      }
    } else {
      avro_history.push_back(*stored->avro);
      avro_versions.push_back(v.version);
    }
  }
  if (candidate.type == SchemaType::kAvro && !avro_history.empty()) {
    auto parsed = schema::AvroSchema::Parse(candidate.text);
    if (!parsed.ok())
      return Status::InvalidArgument("invalid Avro schema: " + parsed.status().message());
    for (schema::AvroIncompatibility& a :
         schema::CheckCompatibility(*parsed, avro_history, level)) {
      out.push_back({std::move(a.kind), std::move(a.path), std::move(a.message),
                     avro_versions.at(static_cast<size_t>(a.version_index)),
                     std::move(a.direction)});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Incompatibility& a, const Incompatibility& b) {
    return a.version < b.version;
  });
  return out;
}

Result<RegisteredSchema> LocalRegistry::Register(std::string_view subject, const Schema& schema) {
  auto normalized = NormalizeForSubject(subject, schema);
  if (!normalized.ok()) return normalized.status();
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/true));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  WEIR_ASSIGN_OR_RETURN(std::optional<RegisteredSchema> existing, FindLive(rec, *normalized));
  if (existing) return std::move(*existing);
  WEIR_ASSIGN_OR_RETURN(CompatibilityLevel level, LevelOf(rec));
  WEIR_ASSIGN_OR_RETURN(std::vector<Incompatibility> problems,
                        Check(rec, *normalized, kAllVersions, level));
  if (!problems.empty()) {
    std::string msg = fmt::format(
        "{}: subject '{}': the schema is incompatible under {} and was not registered:", Describe(),
        subject, schema::AvroCompatibilityName(level));
    for (const Incompatibility& p : problems) msg += "\n  " + p.ToString();
    return Status::Refused(std::move(msg));
  }
  WEIR_ASSIGN_OR_RETURN(int32_t id, FindOrCreateId(*normalized));
  VersionEntry entry{rec.NextVersion(), id, false};
  rec.versions.push_back(entry);
  WEIR_RETURN_IF_ERROR(WriteSubject(rec));
  return RegisteredSchema{std::string(subject), entry.version, id, *normalized};
}

Result<RegisteredSchema> LocalRegistry::LookUp(std::string_view subject, const Schema& schema) {
  auto normalized = NormalizeForSubject(subject, schema);
  if (!normalized.ok()) return normalized.status();
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/false));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  if (rec.Live().empty()) return SubjectNotFound(subject);
  WEIR_ASSIGN_OR_RETURN(std::optional<RegisteredSchema> existing, FindLive(rec, *normalized));
  if (existing) return std::move(*existing);
  return Status::NotFound(
      fmt::format("{}: subject '{}' holds no version with this schema", Describe(), subject));
}

Result<Schema> LocalRegistry::GetById(int32_t id) {
  if (id < 1) return Status::NotFound(fmt::format("{}: schema id {} not found", Describe(), id));
  WEIR_ASSIGN_OR_RETURN(StoredSchema stored, ReadSchema(id));
  return stored.schema;
}

Result<schema::AvroSchema> LocalRegistry::GetAvroById(int32_t id) {
  if (id < 1) return Status::NotFound(fmt::format("{}: schema id {} not found", Describe(), id));
  WEIR_ASSIGN_OR_RETURN(StoredSchema stored, ReadSchema(id));
  if (!stored.avro) {
    return Status::InvalidArgument(fmt::format("{}: schema id {} is a {} schema, not Avro",
                                               Describe(), id, SchemaTypeName(stored.schema.type)));
  }
  return *stored.avro;
}

Result<RegisteredSchema> LocalRegistry::GetVersion(std::string_view subject, int32_t version) {
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/false));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  WEIR_ASSIGN_OR_RETURN(VersionEntry v, Resolve(rec, version));
  return ToRegistered(rec, v);
}

Result<std::vector<std::string>> LocalRegistry::ListSubjects() {
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/false));
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(root_ / "subjects", ec);
  if (ec) return Status::Io(fmt::format("{}: cannot list subjects/: {}", Describe(), ec.message()));
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".") || name.ends_with(kTempFileSuffix)) continue;
    if (!name.ends_with(".json")) {
      return CorruptFile(entry.path(), "unexpected file in subjects/ (expected <subject>.json)");
    }
    WEIR_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(entry.path()));
    WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ParseSubject(entry.path(), text));
    if (EscapeSubject(rec.subject) + ".json" != name) {
      return CorruptFile(entry.path(), fmt::format("holds subject '{}', which belongs in {}.json",
                                                   rec.subject, EscapeSubject(rec.subject)));
    }
    if (!rec.Live().empty()) out.push_back(std::move(rec.subject));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<int32_t>> LocalRegistry::ListVersions(std::string_view subject) {
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/false));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  std::vector<int32_t> out;
  for (const VersionEntry& v : rec.Live()) out.push_back(v.version);
  if (out.empty()) return SubjectNotFound(subject);
  return out;
}

Result<std::vector<Incompatibility>> LocalRegistry::CheckCompatibility(std::string_view subject,
                                                                       const Schema& schema,
                                                                       int32_t version) {
  auto normalized = NormalizeForSubject(subject, schema);
  if (!normalized.ok()) return normalized.status();
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/false));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  if (version != kAllVersions && rec.Live().empty()) return SubjectNotFound(subject);
  WEIR_ASSIGN_OR_RETURN(CompatibilityLevel level, LevelOf(rec));
  return Check(rec, *normalized, version, level);
}

Result<CompatibilityLevel> LocalRegistry::GetCompatibility(std::string_view subject) {
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/false));
  if (subject.empty()) return GlobalLevel();
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  return LevelOf(rec);
}

Status LocalRegistry::SetCompatibility(std::string_view subject, CompatibilityLevel level) {
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/true));
  if (subject.empty()) {
    ordered_json j = {{"compatibility", schema::AvroCompatibilityName(level)}};
    return WriteFileAtomically(root_ / "config.json", j.dump(2) + "\n");
  }
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  rec.compatibility = level;
  return WriteSubject(rec);
}

Result<std::vector<int32_t>> LocalRegistry::DeleteSubject(std::string_view subject) {
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/true));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  std::vector<int32_t> deleted;
  for (VersionEntry& v : rec.versions) {
    if (v.deleted) continue;
    v.deleted = true;
    deleted.push_back(v.version);
  }
  if (deleted.empty()) return SubjectNotFound(subject);
  WEIR_RETURN_IF_ERROR(WriteSubject(rec));
  return deleted;
}

Result<int32_t> LocalRegistry::DeleteVersion(std::string_view subject, int32_t version) {
  WEIR_RETURN_IF_ERROR(ValidateSubject(subject));
  WEIR_ASSIGN_OR_RETURN(FolderLock lock, Lock(/*exclusive=*/true));
  WEIR_ASSIGN_OR_RETURN(SubjectRecord rec, ReadSubject(subject));
  WEIR_ASSIGN_OR_RETURN(VersionEntry target, Resolve(rec, version));
  for (VersionEntry& v : rec.versions) {
    if (v.version == target.version) v.deleted = true;
  }
  WEIR_RETURN_IF_ERROR(WriteSubject(rec));
  return target.version;
}

}  // namespace

Result<std::unique_ptr<Registry>> OpenLocalRegistry(const std::string& folder,
                                                    CompatibilityLevel default_compatibility) {
  if (folder.empty()) return Status::InvalidArgument("the local registry's folder is empty");
  auto registry = std::make_unique<LocalRegistry>(fs::path(folder), default_compatibility);
  WEIR_RETURN_IF_ERROR(registry->Init());
  return std::unique_ptr<Registry>(std::move(registry));
}

}  // namespace weir::registry
