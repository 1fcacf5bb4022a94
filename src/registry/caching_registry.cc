// A Registry decorator that remembers what cannot change: a global id always
// names the same schema, and a schema registered under a subject keeps its
// id and version (until the subject or version is deleted, which this object
// sees only when the deletion goes through it). A consumer's per-record
// GetAvroById() is then one map lookup under a mutex; the remote registry is
// asked once per id. Calls to |inner_| are made without holding the mutex, so
// a slow registry never blocks cache hits.
#include <map>
#include <mutex>
#include <tuple>

#include "registry/registry_internal.h"

namespace weir::registry {
namespace {

class CachingRegistry final : public Registry {
 public:
  explicit CachingRegistry(std::unique_ptr<Registry> inner) : inner_(std::move(inner)) {}

  std::string Describe() const override { return inner_->Describe(); }

  Result<RegisteredSchema> Register(std::string_view subject, const Schema& schema) override {
    if (auto hit = FindRegistered(subject, schema)) return *hit;
    auto r = inner_->Register(subject, schema);
    if (r.ok()) Remember(subject, schema, *r);
    return r;
  }

  Result<RegisteredSchema> LookUp(std::string_view subject, const Schema& schema) override {
    if (auto hit = FindRegistered(subject, schema)) return *hit;
    auto r = inner_->LookUp(subject, schema);
    if (r.ok()) Remember(subject, schema, *r);
    return r;
  }

  Result<Schema> GetById(int32_t id) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      auto it = by_id_.find(id);
      if (it != by_id_.end()) return it->second;
    }
    auto r = inner_->GetById(id);
    if (r.ok()) {
      std::lock_guard<std::mutex> guard(mu_);
      by_id_.emplace(id, *r);
    }
    return r;
  }

  Result<schema::AvroSchema> GetAvroById(int32_t id) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      auto it = avro_by_id_.find(id);
      if (it != avro_by_id_.end()) return it->second;
    }
    // Through this object's GetById() (cached), then parsed once.
    auto r = Registry::GetAvroById(id);
    if (r.ok()) {
      std::lock_guard<std::mutex> guard(mu_);
      avro_by_id_.emplace(id, *r);
    }
    return r;
  }

  Result<RegisteredSchema> GetVersion(std::string_view subject, int32_t version) override {
    return inner_->GetVersion(subject, version);
  }
  Result<std::vector<std::string>> ListSubjects() override { return inner_->ListSubjects(); }
  Result<std::vector<int32_t>> ListVersions(std::string_view subject) override {
    return inner_->ListVersions(subject);
  }
  Result<std::vector<Incompatibility>> CheckCompatibility(std::string_view subject,
                                                          const Schema& schema,
                                                          int32_t version) override {
    return inner_->CheckCompatibility(subject, schema, version);
  }
  Result<CompatibilityLevel> GetCompatibility(std::string_view subject) override {
    return inner_->GetCompatibility(subject);
  }
  Status SetCompatibility(std::string_view subject, CompatibilityLevel level) override {
    return inner_->SetCompatibility(subject, level);
  }
  Result<std::vector<int32_t>> DeleteSubject(std::string_view subject) override {
    Forget(subject);
    return inner_->DeleteSubject(subject);
  }
  Result<int32_t> DeleteVersion(std::string_view subject, int32_t version) override {
    Forget(subject);
    return inner_->DeleteVersion(subject, version);
  }

 private:
  using Key = std::tuple<std::string, SchemaType, std::string>;  // subject, type, text as given

  std::optional<RegisteredSchema> FindRegistered(std::string_view subject, const Schema& schema) {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = registered_.find(Key(std::string(subject), schema.type, schema.text));
    if (it == registered_.end()) return std::nullopt;
    return it->second;
  }

  void Remember(std::string_view subject, const Schema& schema, const RegisteredSchema& r) {
    std::lock_guard<std::mutex> guard(mu_);
    registered_.emplace(Key(std::string(subject), schema.type, schema.text), r);
    by_id_.emplace(r.id, r.schema);
  }

  void Forget(std::string_view subject) {
    std::lock_guard<std::mutex> guard(mu_);
    for (auto it = registered_.begin(); it != registered_.end();) {
      it = std::get<0>(it->first) == subject ? registered_.erase(it) : std::next(it);
    }
  }

  const std::unique_ptr<Registry> inner_;
  std::mutex mu_;
  std::map<Key, RegisteredSchema> registered_;        // GUARDED_BY(mu_)
  std::map<int32_t, Schema> by_id_;                   // GUARDED_BY(mu_)
  std::map<int32_t, schema::AvroSchema> avro_by_id_;  // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<Registry> NewCachingRegistry(std::unique_ptr<Registry> inner) {
  return std::make_unique<CachingRegistry>(std::move(inner));
}

}  // namespace weir::registry
