#include "search_index.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "camera_sim.h"
#include "event_processor.h"
#include "sqlite_db.h"
#include "weir/consume/dead_letter.h"

namespace alpr {
namespace {

using nlohmann::json;

constexpr const char* kOpenSearchIndex = "alpr-plates";

// How well |doc| matches |query| (both folded): 1 for a substring.
double Score(const std::string& doc, const std::string& query) {
  if (query.empty()) return 1.0;
  if (doc.find(query) != std::string::npos) return 1.0;
  return PlateSimilarity(doc, query);
}

class SqliteSearchIndex : public SearchIndex {
 public:
  explicit SqliteSearchIndex(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  weir::Status Init() {
    return db_->Exec(R"sql(
      CREATE TABLE IF NOT EXISTS plate_docs (
        event_id TEXT PRIMARY KEY,
        plate TEXT NOT NULL,
        folded TEXT NOT NULL,
        camera_id TEXT NOT NULL,
        captured_at TEXT NOT NULL,
        captured_ms INTEGER NOT NULL,
        confidence REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS plate_docs_camera_time ON plate_docs(camera_id, captured_ms);
      CREATE VIRTUAL TABLE IF NOT EXISTS plate_fts USING fts5(
        folded, content='plate_docs', content_rowid='rowid', tokenize='trigram',
        detail=none, columnsize=0);  -- queries are single trigrams: no positions needed
    )sql");
  }

  weir::Status Index(const PlateRow& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    weir::Status s = IndexLocked(r);
    if (!s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
    return db_->Exec("COMMIT");
  }

  weir::Result<std::vector<SearchHit>> Search(const SearchQuery& q) override {
    const std::string folded = FoldPlate(q.plate);
    std::string sql =
        "SELECT d.event_id, d.plate, d.folded, d.camera_id, d.captured_at, d.confidence "
        "FROM plate_docs d";
    std::vector<SqlValue> params;
    std::vector<std::string> where;
    if (folded.size() >= 3) {
      // Candidates: documents sharing at least one trigram with the query.
      std::set<std::string> grams;
      for (size_t i = 0; i + 3 <= folded.size(); ++i) grams.insert(folded.substr(i, 3));
      std::string match;
      for (const std::string& g : grams) {
        if (!match.empty()) match += " OR ";
        match += "\"" + g + "\"";  // folded plates are [A-Z0-9]: nothing to escape
      }
      sql += " JOIN plate_fts f ON f.rowid = d.rowid";
      params.emplace_back(match);
      where.push_back(fmt::format("plate_fts MATCH ?{}", params.size()));
    } else if (!folded.empty()) {
      params.emplace_back("%" + folded + "%");
      where.push_back(fmt::format("d.folded LIKE ?{}", params.size()));
    }
    if (!q.camera_id.empty()) {
      params.emplace_back(q.camera_id);
      where.push_back(fmt::format("d.camera_id = ?{}", params.size()));
    }
    if (q.from_ms) {
      params.emplace_back(*q.from_ms);
      where.push_back(fmt::format("d.captured_ms >= ?{}", params.size()));
    }
    if (q.to_ms) {
      params.emplace_back(*q.to_ms);
      where.push_back(fmt::format("d.captured_ms < ?{}", params.size()));
    }
    for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
    std::vector<SqlRow> rows;
    {
      std::lock_guard<std::mutex> lock(mu_);
      WEIR_ASSIGN_OR_RETURN(rows, db_->Query(sql, params));
    }
    std::vector<SearchHit> hits;
    for (const SqlRow& row : rows) {
      const double score = Score(AsText(row[2]), folded);
      if (score < q.min_similarity) continue;
      hits.push_back({AsText(row[0]), AsText(row[1]), AsText(row[3]), AsText(row[4]),
                      AsDouble(row[5]), score});
    }
    std::sort(hits.begin(), hits.end(), [](const SearchHit& a, const SearchHit& b) {
      if (a.score != b.score) return a.score > b.score;
      return a.captured_at > b.captured_at;
    });
    if (hits.size() > q.limit) hits.resize(q.limit);
    return hits;
  }

  weir::Result<int64_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT COUNT(*) FROM plate_docs", {}));
    return AsInt(rows.at(0).at(0));
  }

  std::string Describe() const override { return "SQLite FTS5 " + db_->path(); }

 private:
  weir::Status IndexLocked(const PlateRow& r) {
    const std::string folded = FoldPlate(r.normalized_text);
    WEIR_RETURN_IF_ERROR(db_->Query("INSERT INTO plate_docs (event_id, plate, folded, camera_id, "
                                    "captured_at, captured_ms, confidence) VALUES "
                                    "(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(event_id) DO NOTHING",
                                    {r.event_id, r.normalized_text, folded, r.camera_id,
                                     r.captured_at, r.captured_ms, r.confidence})
                             .status());
    if (db_->Changes() == 0) return weir::Status::Ok();  // indexed before
    return db_
        ->Query(
            "INSERT INTO plate_fts (rowid, folded) SELECT rowid, folded FROM plate_docs "
            "WHERE event_id = ?1",
            {r.event_id})
        .status();
  }

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

class OpenSearchIndex : public SearchIndex {
 public:
  static weir::Result<std::unique_ptr<SearchIndex>> Create(const std::string& url) {
    // scheme://[user:password@]host[:port][/]
    const size_t scheme_end = url.find("://");
    std::string rest = url.substr(scheme_end + 3);
    std::string user, password;
    if (size_t at = rest.find('@'); at != std::string::npos) {
      std::string cred = rest.substr(0, at);
      rest = rest.substr(at + 1);
      size_t colon = cred.find(':');
      user = cred.substr(0, colon);
      if (colon != std::string::npos) password = cred.substr(colon + 1);
    }
    if (size_t slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
    if (rest.empty()) {
      return weir::Status::InvalidArgument(
          fmt::format("search index URL {}: no host", url.substr(0, scheme_end + 3)));
    }
    auto idx = std::unique_ptr<OpenSearchIndex>(new OpenSearchIndex());
    idx->base_ = url.substr(0, scheme_end + 3) + rest;
    idx->client_ = std::make_unique<httplib::Client>(idx->base_);
    idx->client_->set_connection_timeout(std::chrono::seconds(5));
    idx->client_->set_read_timeout(std::chrono::seconds(25));  // inside the group's 30 s
    idx->client_->set_write_timeout(std::chrono::seconds(10));
    if (!user.empty()) idx->client_->set_basic_auth(user, password);
    return std::unique_ptr<SearchIndex>(std::move(idx));
  }

  weir::Status Index(const PlateRow& r) override {
    json action = {{"index", {{"_index", kOpenSearchIndex}, {"_id", r.event_id}}}};
    json doc = {{"event_id", r.event_id},           {"plate", r.normalized_text},
                {"plate_text", r.plate_text},       {"plate_folded", FoldPlate(r.normalized_text)},
                {"camera_id", r.camera_id},         {"captured_at", r.captured_at},
                {"confidence", r.confidence},       {"vehicle_type", r.vehicle_type},
                {"vehicle_color", r.vehicle_color}, {"site", r.site}};
    const std::string body = action.dump() + "\n" + doc.dump() + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    auto res = client_->Post("/_bulk", body, "application/x-ndjson");
    if (!res) {
      return weir::Status::Unavailable(fmt::format("OpenSearch {}: bulk request failed: {}", base_,
                                                   httplib::to_string(res.error())));
    }
    if (res->status == 429 || res->status >= 500) {
      return weir::Status::Unavailable(
          fmt::format("OpenSearch {}: bulk request: HTTP {}", base_, res->status));
    }
    if (res->status >= 300) {
      return weir::Status::InvalidArgument(fmt::format("OpenSearch {}: bulk request: HTTP {}: {}",
                                                       base_, res->status,
                                                       res->body.substr(0, 300)));
    }
    json reply = json::parse(res->body, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) {
      return weir::Status::Unavailable(fmt::format("OpenSearch {}: bulk reply is not JSON", base_));
    }
    if (!reply.value("errors", false)) return weir::Status::Ok();
    // The one item's outcome.
    const json& items = reply["items"];
    if (!items.is_array() || items.empty() || !items[0].contains("index")) {
      return weir::Status::Unavailable(
          fmt::format("OpenSearch {}: bulk reply reports errors without items", base_));
    }
    const json& item = items[0]["index"];
    const int status = item.value("status", 0);
    std::string reason = item.contains("error") ? item["error"].dump() : "unknown error";
    std::string msg = fmt::format("OpenSearch {}: document {} refused (status {}): {}", base_,
                                  r.event_id, status, reason.substr(0, 300));
    if (status == 429 || status >= 500) return weir::Status::Unavailable(msg);
    return weir::Status::InvalidArgument(msg);
  }

  weir::Result<std::vector<SearchHit>> Search(const SearchQuery& q) override {
    json must = json::array(), filter = json::array();
    if (!q.plate.empty()) {
      must.push_back(
          {{"match", {{"plate_folded", {{"query", FoldPlate(q.plate)}, {"fuzziness", "AUTO"}}}}}});
    }
    if (!q.camera_id.empty()) filter.push_back({{"term", {{"camera_id", q.camera_id}}}});
    if (q.from_ms || q.to_ms) {
      json range = json::object();
      if (q.from_ms) range["gte"] = weir::consume::FormatDlqTimestamp(*q.from_ms);
      if (q.to_ms) range["lt"] = weir::consume::FormatDlqTimestamp(*q.to_ms);
      filter.push_back({{"range", {{"captured_at", range}}}});
    }
    json body = {{"size", q.limit},
                 {"query", {{"bool", {{"must", must}, {"filter", filter}}}}},
                 {"sort", json::array({"_score", {{"captured_at", "desc"}}})}};
    std::lock_guard<std::mutex> lock(mu_);
    auto res = client_->Post(fmt::format("/{}/_search", kOpenSearchIndex), body.dump(),
                             "application/json");
    if (!res) {
      return weir::Status::Unavailable(
          fmt::format("OpenSearch {}: search failed: {}", base_, httplib::to_string(res.error())));
    }
    if (res->status != 200) {
      return weir::Status::Unavailable(fmt::format("OpenSearch {}: search: HTTP {}: {}", base_,
                                                   res->status, res->body.substr(0, 300)));
    }
    json reply = json::parse(res->body, nullptr, false);
    std::vector<SearchHit> hits;
    if (reply.is_discarded() || !reply.contains("hits")) return hits;
    const std::string folded = FoldPlate(q.plate);
    for (const json& h : reply["hits"].value("hits", json::array())) {
      const json& s = h.value("_source", json::object());
      SearchHit hit;
      hit.event_id = s.value("event_id", "");
      hit.plate = s.value("plate", "");
      hit.camera_id = s.value("camera_id", "");
      hit.captured_at = s.value("captured_at", "");
      hit.confidence = s.value("confidence", 0.0);
      hit.score = Score(s.value("plate_folded", ""), folded);
      hits.push_back(std::move(hit));
    }
    return hits;
  }

  weir::Result<int64_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto res = client_->Get(fmt::format("/{}/_count", kOpenSearchIndex));
    if (!res || res->status != 200) {
      return weir::Status::Unavailable(fmt::format("OpenSearch {}: count failed", base_));
    }
    json reply = json::parse(res->body, nullptr, false);
    if (reply.is_discarded())
      return weir::Status::Unavailable("OpenSearch: count reply is not JSON");
    return reply.value("count", int64_t{0});
  }

  std::string Describe() const override {
    return fmt::format("OpenSearch {} (index {})", base_, kOpenSearchIndex);
  }

 private:
  OpenSearchIndex() = default;
  std::mutex mu_;
  std::string base_;  // scheme://host:port, no credentials
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace

std::string FoldPlate(std::string_view plate) {
  std::string out = NormalizePlate(plate);
  std::erase_if(out, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) == 0; });
  for (char& c : out) {
    switch (c) {
      case 'O':
        c = '0';
        break;
      case 'I':
        c = '1';
        break;
      case 'B':
        c = '8';
        break;
      case 'S':
        c = '5';
        break;
      case 'Z':
        c = '2';
        break;
      default:
        break;
    }
  }
  return out;
}

weir::Result<std::unique_ptr<SearchIndex>> SearchIndex::Open(const std::string& target) {
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    return OpenSearchIndex::Create(target);
  }
  WEIR_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(target));
  auto idx = std::make_unique<SqliteSearchIndex>(std::move(db));
  WEIR_RETURN_IF_ERROR(idx->Init());
  return std::unique_ptr<SearchIndex>(std::move(idx));
}

}  // namespace alpr
