// The DeepLens example end to end on an in-process embedded broker: sample
// images uploaded over HTTP through validation, feature extraction and the
// vector index, with their business outcomes checked (exactly the
// duplicated images flagged, with the right duplicate_of; bad images in
// images.failed with their reason; every upload indexed or failed, none
// lost; tenant usage), the upload API's bad requests, events from other
// producers, a redelivered event, and the one command `weir-deeplens run`.
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "deeplens_events.h"
#include "examples_test_util.h"
#include "image_features.h"
#include "pipeline_observer.h"
#include "publish/publish_test_util.h"
#include "sample_images.h"
#include "stage_worker.h"
#include "support/test_support.h"
#include "upload_api.h"
#include "weir/publish/publisher.h"

namespace deeplens {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::broker::testing::TestBroker;
using weir::examples::testing::LoadTopologyOnBroker;
using weir::examples::testing::StartPublisher;
using weir::testing::TempDir;

constexpr milliseconds kWait = seconds(60);
constexpr uint64_t kMaxBytes = 1 << 20;

std::string DeepLensBinary() { return std::string(WEIR_BINARY_DIR) + "/bin/weir-deeplens"; }
std::string ExampleConfig() { return weir::testing::SourcePath("examples/deeplens/weir.yaml"); }

class DeepLensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(LoadTopologyOnBroker(ExampleConfig(), broker_, &topology_));
    ASSERT_NO_FATAL_FAILURE(
        StartPublisher(topology_, broker_, dir_.path() + "/spool", &publisher_));
    for (Stage st : {Stage::kValidation, Stage::kFeatureExtraction, Stage::kIndexing}) {
      StageWorkerOptions o;
      o.runtime.commit_interval = milliseconds(100);
      o.limits.max_bytes = kMaxBytes;
      o.index_path = index_path();
      auto w = StageWorker::Create(st, topology_, broker_.Config(), publisher_.get(), o);
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      ASSERT_TRUE((*w)->Start().ok());
      workers_.push_back(std::move(*w));
    }
    PipelineObserverOptions oo;
    oo.runtime.commit_interval = milliseconds(100);
    auto obs = PipelineObserver::Create(topology_, broker_.Config(), oo);
    ASSERT_TRUE(obs.ok()) << obs.status().ToString();
    observer_ = std::move(*obs);
    ASSERT_TRUE(observer_->Start().ok());
    UploadApiOptions ao;
    ao.listen = "127.0.0.1:0";
    ao.limits.max_bytes = kMaxBytes;
    ao.blob_root = dir_.path() + "/blobs";
    auto api = UploadApi::Start(ao, publisher_.get());
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
  }
  void TearDown() override {
    if (api_) api_->Stop();
    for (auto& w : workers_) EXPECT_TRUE(w->Stop(seconds(10)).ok());
    if (observer_) {
      EXPECT_TRUE(observer_->Stop(seconds(10)).ok());
    }
    if (publisher_) {
      EXPECT_TRUE(publisher_->Close(seconds(10)).ok());
    }
  }

  std::string index_path() const { return dir_.path() + "/index.sqlite"; }
  StageWorker& worker(Stage st) { return *workers_[static_cast<size_t>(st)]; }

  // Every record of |topic|, its value parsed, keyed records kept in order.
  std::vector<json> Events(const std::string& topic) {
    const weir::TopicSpec* t = topology_.FindTopic(topic);
    std::vector<json> out;
    for (const auto& r : weir::testing::ReadTopic(broker_.Config(), topic, t->partitions)) {
      out.push_back(json::parse(r.value.value_or("null")));
    }
    return out;
  }

  // Publishes |event| as |type| with a publisher that does not de-duplicate
  // (as another producer, or a redelivery, would).
  void PublishRaw(const char* type, const json& event) {
    weir::Topology t = topology_;
    t.publisher.dedup_ttl = milliseconds(0);
    weir::publish::PublisherOptions po;
    po.spool = false;
    auto p = weir::publish::Publisher::Create(t, broker_.Config(), po);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    const auto r = (*p)->Publish(type, event.dump());
    ASSERT_EQ(r.outcome, weir::publish::PublishOutcome::kDelivered) << r.status.ToString();
    ASSERT_TRUE((*p)->Close(seconds(10)).ok());
  }

  TempDir dir_;
  TestBroker broker_;
  weir::Topology topology_;
  std::unique_ptr<weir::publish::Publisher> publisher_;
  std::vector<std::unique_ptr<StageWorker>> workers_;
  std::unique_ptr<PipelineObserver> observer_;
  std::unique_ptr<UploadApi> api_;
};

TEST_F(DeepLensTest, DuplicatesFoundBadImagesFailedAndNoUploadLost) {
  const std::vector<SampleImage> samples = MakeSampleSet(7, "acme", "globex", kMaxBytes);
  std::map<std::string, std::string> id_of;             // file_name -> image_id
  std::map<std::string, const SampleImage*> sample_of;  // image_id -> sample
  for (int phase = 1; phase <= 2; ++phase) {
    std::set<std::string> ids;
    for (const SampleImage& s : samples) {
      if (s.phase != phase) continue;
      SCOPED_TRACE(s.file_name);
      const UploadReply r = PostImage(api_->url(), s.tenant_id, s.file_name, s.bytes);
      if (s.expect == Expect::kRefused) {
        EXPECT_EQ(r.status, s.http_status) << r.error << r.body.dump();
        continue;
      }
      ASSERT_EQ(r.status, 202) << r.error << r.body.dump();
      const std::string id = r.image_id();
      ASSERT_FALSE(id.empty());
      EXPECT_EQ(r.body["file_size"], s.bytes.size());
      id_of[s.file_name] = id;
      sample_of[id] = &s;
      ids.insert(id);
    }
    // Originals are indexed before their duplicates are uploaded.
    ASSERT_TRUE(observer_->WaitForOutcomes(ids, kWait)) << "phase " << phase;
  }

  const auto indexed = observer_->Indexed();
  const auto failed = observer_->Failed();
  // Every accepted upload has exactly one outcome; nothing else turned up.
  EXPECT_EQ(indexed.size() + failed.size(), sample_of.size());
  std::set<std::string> flagged, expected_flagged;
  for (const auto& [id, s] : sample_of) {
    SCOPED_TRACE(s->file_name);
    EXPECT_EQ(indexed.count(id) + failed.count(id), 1u);
    switch (s->expect) {
      case Expect::kOriginal:
      case Expect::kDuplicate: {
        ASSERT_EQ(indexed.count(id), 1u) << (failed.count(id) ? failed.at(id).reason : "");
        const json& e = indexed.at(id);
        EXPECT_EQ(e["tenant_id"], s->tenant_id);
        EXPECT_EQ(e["index_name"], s->tenant_id + "-images");
        EXPECT_EQ(e["vector_dimensions"], kHistogramBins);
        if (s->expect == Expect::kDuplicate) {
          expected_flagged.insert(id);
          EXPECT_EQ(e["duplicate_of"], id_of.at(s->original));
          EXPECT_LE(e["hash_distance"].get<int>(), kDefaultDuplicateDistance);
        }
        if (e["duplicate_of"].is_string()) flagged.insert(id);
        break;
      }
      case Expect::kFailed: {
        ASSERT_EQ(failed.count(id), 1u);
        const FailedImage& f = failed.at(id);
        EXPECT_FALSE(f.dead_letter);
        EXPECT_EQ(f.stage, "validation");
        EXPECT_EQ(f.tenant_id, s->tenant_id);
        EXPECT_EQ(f.reason_code, RejectCodeName(s->reject)) << f.reason;
        EXPECT_EQ(f.reason.rfind("Validation failed: ", 0), 0u) << f.reason;
        break;
      }
      case Expect::kRefused:
        ADD_FAILURE() << "a refused upload got an image_id";
    }
  }
  // Exactly the duplicated images are flagged; the same bytes in another
  // tenant (sunrise-b.png) are not.
  EXPECT_EQ(flagged, expected_flagged);
  EXPECT_EQ(flagged.size(), 4u);
  EXPECT_EQ(indexed.at(id_of.at("sunrise-b.png"))["duplicate_of"], nullptr);

  // The topics hold one outcome per image, and no dead letter.
  EXPECT_EQ(Events(kImagesIndexed).size(), 10u);
  const std::vector<json> failed_events = Events(kImagesFailed);
  EXPECT_EQ(failed_events.size(), 5u);
  for (const json& f : failed_events) EXPECT_TRUE(f.contains("reason_code")) << f.dump();
  for (Stage st : {Stage::kValidation, Stage::kFeatureExtraction, Stage::kIndexing}) {
    EXPECT_EQ(worker(st).GroupStats().dead_lettered, 0u) << StageName(st);
  }

  // Usage per tenant, worked out from the samples.
  std::map<std::string, TenantUsage> want;
  for (const auto& [id, s] : sample_of) {
    TenantUsage& t = want[s->tenant_id];
    ++t.uploads;
    t.storage_bytes += static_cast<int64_t>(s->bytes.size());
    if (s->expect == Expect::kFailed) {
      ++t.failed;
    } else {
      ++t.processed;
      ++t.indexed;
    }
  }
  ASSERT_EQ(want.size(), 2u);
  EXPECT_EQ(want["acme"].uploads, 10);
  EXPECT_EQ(want["globex"].failed, 2);
  auto usage_is = [&] {
    const auto got = observer_->Usage();
    for (const auto& [tenant, w] : want) {
      auto it = got.find(tenant);
      if (it == got.end()) return false;
      const TenantUsage& g = it->second;
      if (g.uploads != w.uploads || g.storage_bytes != w.storage_bytes ||
          g.processed != w.processed || g.indexed != w.indexed || g.failed != w.failed) {
        return false;
      }
    }
    return got.size() == want.size();
  };
  EXPECT_TRUE(observer_->WaitUntil(usage_is, kWait));
  for (const auto& [tenant, g] : observer_->Usage()) {
    SCOPED_TRACE(tenant);
    EXPECT_EQ(g.uploads, want[tenant].uploads);
    EXPECT_EQ(g.storage_bytes, want[tenant].storage_bytes);
    EXPECT_EQ(g.processed, want[tenant].processed);
    EXPECT_EQ(g.indexed, want[tenant].indexed);
    EXPECT_EQ(g.failed, want[tenant].failed);
  }

  // The index holds the ten images with the same decisions.
  auto index = VectorIndex::Open(index_path());
  ASSERT_TRUE(index.ok());
  auto rows = (*index)->List();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 10u);
  for (const IndexEntry& e : *rows) {
    EXPECT_EQ(e.duplicate_of.has_value(), expected_flagged.count(e.image_id) == 1) << e.image_id;
  }
}

TEST_F(DeepLensTest, BadRequestsGetA4xxNamingTheProblemAndPublishNothing) {
  httplib::Client client(api_->url());
  const std::string png = EncodePng(GenerateScene(1, 16, 16)).value();
  struct Case {
    const char* name;
    std::string path;
    std::string body;
    int status;
    const char* says;
  };
  const Case cases[] = {
      {"no tenant", "/api/v1/images?file_name=a.png", png, 400, "tenant_id is missing"},
      {"bad tenant", "/api/v1/images?tenant_id=a%20b", png, 400, "tenant_id \"a b\""},
      {"empty body", "/api/v1/images?tenant_id=acme", "", 400, "body is empty"},
      {"too big", "/api/v1/images?tenant_id=acme", std::string(kMaxBytes + 1, 'x'), 413,
       "limit of 1048576 bytes"},
      {"long file name", "/api/v1/images?tenant_id=acme&file_name=" + std::string(300, 'n'), png,
       400, "file_name has 300 bytes"},
      {"wrong path", "/api/v1/image?tenant_id=acme", png, 404, "no route POST /api/v1/image"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto res = client.Post(c.path, c.body, "image/png");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, c.status);
    const json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body["error_code"], c.status);
    EXPECT_NE(body.value("message", "").find(c.says), std::string::npos) << res->body;
  }
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    SCOPED_TRACE(method);
    httplib::Request req;
    req.method = method;
    req.path = "/api/v1/images";
    auto res = client.send(req);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->get_header_value("Allow"), "POST");
    EXPECT_NE(res->body.find(std::string("method ") + method + " is not allowed"),
              std::string::npos)
        << res->body;
  }
  EXPECT_EQ(publisher_->Stats().accepted, 0u);
  EXPECT_EQ(api_->Stats().refused, 8u);  // a 404 is no upload
  EXPECT_EQ(api_->Stats().accepted, 0u);
  // The tenant may come as a header too.
  httplib::Headers headers = {{"X-Tenant-Id", "acme"}, {"X-File-Name", "tiny.png"}};
  auto ok = client.Post("/api/v1/images", headers, png, "image/png");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202) << ok->body;
  // The API's count: the workers share the Publisher and may already have
  // published the upload's validation and usage events.
  EXPECT_EQ(api_->Stats().accepted, 1u);
}

TEST_F(DeepLensTest, EventsFromOtherProducersAreValidatedToo) {
  // Another producer's events: a zero-byte blob, a blob that is gone, and
  // one that is fine. The validation worker does not trust the API to have
  // checked anything.
  const std::string empty = dir_.WriteFile("empty.png", "");
  const std::string good = dir_.WriteFile("good.png", EncodePng(GenerateScene(5, 40, 30)).value());
  auto upload = [](const std::string& id, const std::string& path, int64_t size) {
    return json{{"tenant_id", "initech"},   {"image_id", id},
                {"original_file_name", id}, {"storage_provider", "local"},
                {"storage_path", path},     {"file_size", size},
                {"mime_type", "image/png"}, {"uploaded_at", NowIso8601()}};
  };
  PublishRaw(kImageUploadedEvent, upload("zero", empty, 0));
  PublishRaw(kImageUploadedEvent, upload("gone", dir_.path() + "/nothing-here.png", 100));
  PublishRaw(kImageUploadedEvent, upload("good", good, 1000));
  ASSERT_TRUE(observer_->WaitForOutcomes({"zero", "gone", "good"}, kWait));
  const auto failed = observer_->Failed();
  ASSERT_EQ(failed.count("zero"), 1u);
  EXPECT_EQ(failed.at("zero").reason_code, "empty");
  ASSERT_EQ(failed.count("gone"), 1u);
  EXPECT_EQ(failed.at("gone").reason_code, "missing_blob");
  EXPECT_NE(failed.at("gone").reason.find("nothing-here.png"), std::string::npos);
  EXPECT_EQ(observer_->Indexed().count("good"), 1u);
}

TEST_F(DeepLensTest, ARedeliveredProcessedEventIndexesOnce) {
  const std::string png = EncodePng(GenerateScene(11, 64, 48)).value();
  const UploadReply r = PostImage(api_->url(), "acme", "once.png", png);
  ASSERT_EQ(r.status, 202) << r.body.dump();
  const std::string id = r.image_id();
  ASSERT_TRUE(observer_->WaitForOutcomes({id}, kWait));
  const json first = observer_->Indexed().at(id);

  // The processed event again, as a redelivery would bring it.
  std::vector<json> processed = Events(kImagesProcessed);
  ASSERT_EQ(processed.size(), 1u);
  PublishRaw(kImageProcessedEvent, processed.front());
  ASSERT_TRUE(weir::consume::testing::WaitForStats(
      worker(Stage::kIndexing).runtime(),
      [](const weir::consume::GroupStats& s) { return s.handled == 2 && s.in_flight == 0; },
      kWait));

  auto index = VectorIndex::Open(index_path());
  ASSERT_TRUE(index.ok());
  auto rows = (*index)->List("acme");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);  // one row
  EXPECT_EQ(rows->front().indexed_at, first["indexed_at"]);
  // One indexed event: the repeat is the same event, dropped by the
  // publisher's de-duplication (publisher.dedup_ttl).
  const std::vector<json> indexed = Events(kImagesIndexed);
  ASSERT_EQ(indexed.size(), 1u);
  EXPECT_EQ(indexed.front(), first);
  EXPECT_GE(publisher_->Stats().duplicates, 1u);
}

TEST(DeepLensRunCommand, TheOneCommandChecksEveryOutcome) {
  TempDir dir;
  auto r = weir::testing::RunCommand({DeepLensBinary(), "run", "-c", ExampleConfig(), "--state-dir",
                                      dir.path() + "/state", "--max-image-bytes", "2000000"},
                                     "", seconds(240),
                                     {{"WEIR_EMBEDDED_DATA_DIR", dir.path() + "/data"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("6 originals, 4 duplicates found, 5 rejected, 2 refused by the API (of 17 "
                       "samples)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("every upload has its expected outcome"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("413 the image is larger than the limit of 2000000 bytes"),
            std::string::npos)
      << r.out;
}

TEST(DeepLensRunCommand, HelpListsTheSubcommandsAndBadOptionsAreRefused) {
  auto help = weir::testing::RunCommand({DeepLensBinary(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* sub : {"serve", "upload", "samples", "index", "run"}) {
    EXPECT_NE(help.out.find(sub), std::string::npos) << sub;
  }
  auto bad = weir::testing::RunCommand({DeepLensBinary(), "serve", "--role", "cook"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE((bad.out + bad.err).find("cook"), std::string::npos) << bad.out << bad.err;
  TempDir dir;
  auto no_index =
      weir::testing::RunCommand({DeepLensBinary(), "index", "--db", dir.path() + "/none.sqlite"});
  EXPECT_EQ(no_index.exit_code, 2);
  EXPECT_NE(no_index.err.find("none.sqlite: no vector index there"), std::string::npos)
      << no_index.err;
}

}  // namespace
}  // namespace deeplens
