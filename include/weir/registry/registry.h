// weir/registry/registry.h — the schema registry: subjects, versions and
// global schema ids, as the Confluent Schema Registry defines them.
//
// A Registry stores schemas (Avro or JSON Schema) under subjects. Every
// distinct schema gets one global integer id, the id the Confluent wire
// format carries in front of each Avro payload; each subject holds an ordered
// list of versions (1, 2, ...), each naming an id. A subject's compatibility
// level (or the registry's global one) decides whether a new version may be
// registered after the earlier ones.
//
// Two implementations:
//   - OpenLocalRegistry(): weir's own registry, a folder on local disk, safe
//     against crashes and against several processes registering at once;
//   - OpenConfluentRegistry(): a client of a Confluent Schema Registry (or of
//     anything that serves its REST API, such as `weir serve`).
// OpenRegistry() picks one from weir.yaml's `registry:` section. Both cache
// what never changes (id → schema, and the ids of schemas registered or looked
// up through them), so that GetById() and GetAvroById() on a consumer's hot
// path are a map lookup after the first call. Design and folder layout:
// docs/registry.md.
//
// Avro schemas are parsed and stored in a normalised form (AvroSchema::ToJson:
// full names, no whitespace, properties weir does not model dropped), which is
// what "the same schema" means for idempotent registration and LookUp().
// JSON schemas must parse as weir::schema::JsonSchema and are compared as
// compact JSON. weir's compatibility checker is Avro-only: a JSON Schema
// subject accepts a changed schema only at level NONE (see CheckCompatibility).
// Schema references are not supported.
//
// Errors are Status values, never exceptions: kInvalidArgument for a schema
// that does not parse or an invalid subject/version, kNotFound for an unknown
// subject, version or id, kRefused when the subject's compatibility level
// forbids a new version (the message lists every incompatibility),
// kCorruption for a damaged registry file (named in the message),
// kUnavailable/kTimeout when a remote registry cannot be reached. Messages
// name the subject, version, id or file.
//
// Thread safety: every Registry returned by the Open*() functions may be used
// from any number of threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/schema/avro.h"
#include "weir/schema/avro_compatibility.h"
#include "weir/status.h"

namespace weir {
struct RegistrySpec;
}  // namespace weir

namespace weir::registry {

enum class SchemaType : uint8_t { kAvro, kJson };

// The Schema Registry's name of |type|: "AVRO" or "JSON".
std::string_view SchemaTypeName(SchemaType type);
// Parses "AVRO" or "JSON" (as the REST API's "schemaType" spells them; an
// empty name is AVRO, the API's default). Others are InvalidArgument.
Result<SchemaType> ParseSchemaType(std::string_view name);
// The type of a schema file by its extension: ".avsc" → AVRO, ".json" → JSON.
// Others are InvalidArgument naming the file.
Result<SchemaType> SchemaTypeOfFile(std::string_view path);

// The compatibility levels are the Schema Registry's: NONE, BACKWARD,
// BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE
// (ParseAvroCompatibility / AvroCompatibilityName convert them).
using CompatibilityLevel = schema::AvroCompatibility;

// A schema's text and type.
struct Schema {
  SchemaType type = SchemaType::kAvro;
  std::string text;
};

// A schema as registered under a subject.
struct RegisteredSchema {
  std::string subject;
  int32_t version = 0;  // 1, 2, ... within the subject
  int32_t id = 0;       // global: the same schema has the same id in every subject
  Schema schema;        // as the registry stores it (normalised)
};

// Version arguments: a version number (>= 1), or one of these.
inline constexpr int32_t kLatestVersion = -1;
// CheckCompatibility only: every version the subject's level checks (the
// latest for BACKWARD, FORWARD, FULL; all for the transitive levels), exactly
// what Register() would check.
inline constexpr int32_t kAllVersions = 0;

// One reason a candidate schema may not follow a registered version.
struct Incompatibility {
  // "reader_field_missing_default", "type_mismatch", "missing_enum_symbol",
  // "missing_union_branch", "fixed_size_mismatch", "name_mismatch" (Avro, see
  // avro_compatibility.h); "schema_type_changed" (AVRO vs JSON);
  // "json_schema_changed" (a JSON Schema subject whose level is not NONE).
  // From a Confluent registry: its errorType in lower case, or "incompatible".
  std::string kind;
  // Where, in the reading schema, e.g. "PlateEvent.vehicle.colour"; empty when
  // the whole schema is concerned or the registry did not say.
  std::string path;
  std::string message;  // a readable explanation, without the path
  int32_t version = 0;  // the registered version involved; 0 when unknown
  // "backward" (the candidate cannot read that version's data), "forward"
  // (that version cannot read the candidate's data), or empty.
  std::string direction;

  // "version 2 (backward): PlateEvent.speed: type_mismatch: <message>".
  std::string ToString() const;
};

// The subject of a topic's values or keys under the Schema Registry's
// TopicNameStrategy: "<topic>-value" / "<topic>-key".
std::string TopicValueSubject(std::string_view topic);
std::string TopicKeySubject(std::string_view topic);

class Registry {
 public:
  virtual ~Registry() = default;

  // Where the registry is, for messages: "local registry /srv/reg" or
  // "schema registry https://host:8081" (never a password).
  virtual std::string Describe() const = 0;

  // Registers |schema| under |subject| and returns its id and version. If the
  // subject already has a live version with the same (normalised) schema, that
  // version is returned and nothing changes. Otherwise the schema must pass
  // the subject's compatibility level (kRefused, naming each incompatibility
  // with its kind, path and version, when it does not); it keeps the id it
  // already has in another subject, or gets the next free one.
  virtual Result<RegisteredSchema> Register(std::string_view subject, const Schema& schema) = 0;

  // The live version of |subject| holding |schema|; kNotFound when the subject
  // or the schema is not there.
  virtual Result<RegisteredSchema> LookUp(std::string_view subject, const Schema& schema) = 0;

  // The schema with global id |id| (also when every version naming it was
  // deleted, as with Confluent's soft delete). kNotFound for an unknown id.
  virtual Result<Schema> GetById(int32_t id) = 0;

  // GetById() parsed as Avro; kInvalidArgument when the id is a JSON schema.
  // The registries returned by Open*() parse each id once and cache it.
  virtual Result<schema::AvroSchema> GetAvroById(int32_t id);

  // Version |version| (or kLatestVersion) of |subject|. Deleted versions are
  // kNotFound.
  virtual Result<RegisteredSchema> GetVersion(std::string_view subject, int32_t version) = 0;

  // Subjects with at least one live version, sorted.
  virtual Result<std::vector<std::string>> ListSubjects() = 0;

  // The live versions of |subject|, ascending; kNotFound when it has none.
  virtual Result<std::vector<int32_t>> ListVersions(std::string_view subject) = 0;

  // The reasons |schema| may not follow |subject|'s versions under the
  // subject's compatibility level; empty when compatible. |version| is a
  // version number or kLatestVersion (check against that one version in the
  // level's direction), or kAllVersions (exactly what Register() checks; a
  // subject without versions accepts anything). kNotFound when |version|
  // names a subject or version that does not exist. For JSON Schema subjects
  // weir checks no compatibility: at any level but NONE, a JSON schema that
  // differs from a compared version is a "json_schema_changed"
  // incompatibility (set the subject's level to NONE to evolve it).
  virtual Result<std::vector<Incompatibility>> CheckCompatibility(std::string_view subject,
                                                                  const Schema& schema,
                                                                  int32_t version) = 0;

  // The level that applies to |subject|: its own, else the global one. An
  // empty |subject| asks for the global level.
  virtual Result<CompatibilityLevel> GetCompatibility(std::string_view subject) = 0;
  // Sets |subject|'s own level (which may be set before the subject has
  // versions), or the global level when |subject| is empty.
  virtual Status SetCompatibility(std::string_view subject, CompatibilityLevel level) = 0;

  // Soft-deletes every live version of |subject| and returns their numbers.
  // Ids stay resolvable by GetById(); version numbers are never reused.
  virtual Result<std::vector<int32_t>> DeleteSubject(std::string_view subject) = 0;
  // Soft-deletes one version (or kLatestVersion) and returns its number.
  virtual Result<int32_t> DeleteVersion(std::string_view subject, int32_t version) = 0;
};

// Opens weir's own registry in |folder| (created when absent). Subjects
// without a level of their own, in a folder whose global level was never set
// (SetCompatibility("")), use |default_compatibility|. Several processes and
// threads may use the same folder at once: changes are serialised by an
// exclusive lock on <folder>/registry.lock and each file is replaced
// atomically (write, fsync, rename, fsync the folder), so a crash leaves
// every file either old or new. Fails with kIo when the folder cannot be
// created or locked, kCorruption/kUnsupported for a folder that is not a
// weir registry of a known format.
Result<std::unique_ptr<Registry>> OpenLocalRegistry(const std::string& folder,
                                                    CompatibilityLevel default_compatibility);

struct ConfluentOptions {
  std::chrono::milliseconds connect_timeout{10000};
  // Each request's read and write timeout.
  std::chrono::milliseconds request_timeout{30000};
};

// A client of the Confluent Schema Registry REST API at |url|
// ("http(s)://host[:port][/path-prefix]"). |username| and |password| are sent
// as HTTP basic auth when |username| is not empty (credentials written in the
// URL as user:password@ are used the same way); the password appears in no
// message or log. Nothing is sent until the first call. The registry's own
// compatibility configuration applies; incompatibilities come from its
// verbose messages (kind and path when it names them).
Result<std::unique_ptr<Registry>> OpenConfluentRegistry(const std::string& url,
                                                        const std::string& username,
                                                        const std::string& password,
                                                        const ConfluentOptions& options = {});

// The registry weir.yaml's `registry:` section describes: a Confluent
// registry when |spec.url| is set, else the local folder |spec.folder|
// (relative to |topology_folder|) with |spec.compatibility| as its default.
Result<std::unique_ptr<Registry>> OpenRegistry(const RegistrySpec& spec,
                                               const std::string& topology_folder);

}  // namespace weir::registry
