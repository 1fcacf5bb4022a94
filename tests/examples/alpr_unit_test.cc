// The ALPR example's parts without a cluster: the edge processor's rules
// (confidence, near-duplicates within the window, vehicle events), the
// simulator's determinism, the plate store's idempotence and its errors,
// the watchlist file, and the fuzzy plate search over SQLite FTS5.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "alert_engine.h"
#include "camera_sim.h"
#include "event_processor.h"
#include "plate_store.h"
#include "search_index.h"
#include "support/test_support.h"
#include "weir/consume/dead_letter.h"

namespace alpr {
namespace {

using nlohmann::json;
using weir::testing::TempDir;

constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

Pass MakePass(const std::string& camera, const std::string& plate,
              std::vector<std::pair<std::string, double>> reads, int64_t at_ms) {
  Pass p;
  p.camera_id = camera;
  p.site = "DC1";
  p.host = "edge-01";
  p.track_id = camera + "-t1";
  p.vehicle = {plate, "car", "red", "Toyota", "Camry"};
  p.first_seen_ms = at_ms;
  p.last_seen_ms = at_ms + 500;
  p.direction = "inbound";
  int64_t frame = 100;
  for (auto& [text, conf] : reads) {
    p.reads.push_back({frame, at_ms + (frame - 100) * 66, text, conf, 0.9});
    ++frame;
  }
  return p;
}

ProcessorOptions Seeded(uint64_t seed) {
  ProcessorOptions o;
  o.id_seed = seed;
  return o;
}

SearchQuery Q(std::string plate, std::string camera = "", std::optional<int64_t> from = {},
              std::optional<int64_t> to = {}, double min_similarity = 0.7, size_t limit = 20) {
  SearchQuery q;
  q.plate = std::move(plate);
  q.camera_id = std::move(camera);
  q.from_ms = from;
  q.to_ms = to;
  q.min_similarity = min_similarity;
  q.limit = limit;
  return q;
}

TEST(PlateSimilarity, IsOneMinusEditDistanceOverLength) {
  EXPECT_DOUBLE_EQ(PlateSimilarity("ABC1234", "ABC1234"), 1.0);
  EXPECT_NEAR(PlateSimilarity("ABC1234", "A8C1234"), 1.0 - 1.0 / 7, 1e-9);  // ≥ 0.85
  EXPECT_NEAR(PlateSimilarity("ABC1234", "A8C12S4"), 1.0 - 2.0 / 7, 1e-9);  // < 0.85
  EXPECT_NEAR(PlateSimilarity("ABC1234", "ABC123"), 1.0 - 1.0 / 7, 1e-9);
  EXPECT_DOUBLE_EQ(PlateSimilarity("", ""), 1.0);
  EXPECT_DOUBLE_EQ(PlateSimilarity("ABC", ""), 0.0);
}

TEST(PlateSimilarity, SimilarAtLeastAgreesWithTheFullComputation) {
  const char* plates[] = {"ABC1234", "A8C1234",    "ABC123",     "ABC12345", "XBC1234",
                          "ABC1243", "BC1234",     "ABCD1234",   "AB",       "A",
                          "",        "ABC1234567", "ABC1234568", "ZZZ9999",  "ABC12"};
  for (double t : {0.85, 0.9, 0.75, 0.5, 1.0}) {
    for (const char* a : plates) {
      for (const char* b : plates) {
        EXPECT_EQ(SimilarAtLeast(a, b, t), PlateSimilarity(a, b) >= t - 1e-12)
            << a << " " << b << " " << t;
      }
    }
  }
}

TEST(EventProcessor, DropsLowConfidenceAndNearDuplicatesWithinTheWindow) {
  EventProcessor proc(Seeded(7));
  // One pass: a read below 0.70, a good read, the same plate again, a
  // one-character misread (similar ≥ 0.85), a two-character misread (not).
  auto events = proc.Process(MakePass("cam-01", "ABC 1234",
                                      {{"ABC 1234", 0.65},
                                       {"ABC 1234", 0.91},
                                       {"ABC 1234", 0.93},
                                       {"A8C 1234", 0.80},
                                       {"A8C 12S4", 0.75}},
                                      kT0));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "PlateEvent");
  EXPECT_EQ(events[0].normalized_plate, "ABC1234");
  EXPECT_EQ(events[1].normalized_plate, "A8C12S4");
  EXPECT_EQ(proc.stats().low_confidence, 1u);
  EXPECT_EQ(proc.stats().near_duplicates, 2u);
  EXPECT_EQ(proc.stats().plate_events, 2u);

  // The same plate on another camera is not a duplicate of this one's.
  EXPECT_EQ(proc.Process(MakePass("cam-02", "ABC 1234", {{"ABC 1234", 0.9}}, kT0 + 1000)).size(),
            1u);
  // On cam-01 within 300 s it is; after 300 s it is a new sighting.
  EXPECT_TRUE(
      proc.Process(MakePass("cam-01", "ABC 1234", {{"ABC-1234", 0.9}}, kT0 + 299'000)).empty());
  auto later = proc.Process(MakePass("cam-01", "ABC 1234", {{"ABC 1234", 0.9}}, kT0 + 400'000));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].captured_ms, kT0 + 400'000);
}

TEST(EventProcessor, APassWithoutAConfidentReadIsAVehicleEvent) {
  EventProcessor proc(Seeded(7));
  auto hidden = proc.Process(MakePass("cam-03", "XYZ 9876", {}, kT0));
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_EQ(hidden[0].type, "VehicleEvent");
  json v = json::parse(hidden[0].json);
  EXPECT_EQ(v["camera_id"], "cam-03");
  EXPECT_EQ(v["tracking"]["first_seen_at"], weir::consume::FormatDlqTimestamp(kT0));
  EXPECT_DOUBLE_EQ(v["tracking"]["dwell_time_seconds"].get<double>(), 0.5);

  auto blurry = proc.Process(MakePass("cam-03", "XYZ 9876", {{"XYZ 9876", 0.5}}, kT0 + 10));
  ASSERT_EQ(blurry.size(), 1u);
  EXPECT_EQ(blurry[0].type, "VehicleEvent");
  EXPECT_EQ(proc.stats().vehicle_events, 2u);
}

TEST(EventProcessor, StampAddsPublishedAtAndTheEventParses) {
  EventProcessor proc(Seeded(3));
  auto events = proc.Process(MakePass("cam-01", "JKL 5555", {{"JKL 5555", 0.88}}, kT0));
  ASSERT_EQ(events.size(), 1u);
  const std::string stamped = EventProcessor::Stamp(events[0], kT0 + 42);
  auto row = ParsePlateEvent(stamped);
  ASSERT_TRUE(row.ok()) << row.status().ToString() << "\n" << stamped;
  EXPECT_EQ(row->published_ms, kT0 + 42);
  EXPECT_EQ(row->captured_ms, kT0);
  EXPECT_EQ(row->normalized_text, "JKL5555");
  EXPECT_EQ(row->camera_id, "cam-01");
  EXPECT_EQ(row->site, "DC1");
  // Seeded ids are reproducible and version-4 shaped.
  EventProcessor again(Seeded(3));
  EXPECT_EQ(again.Process(MakePass("cam-01", "JKL 5555", {{"JKL 5555", 0.88}}, kT0))[0].event_id,
            events[0].event_id);
  EXPECT_EQ(events[0].event_id[14], '4');
}

TEST(ParsePlateEvent, NamesTheMissingOrMistypedField) {
  EventProcessor proc(Seeded(3));
  json e = json::parse(EventProcessor::Stamp(
      proc.Process(MakePass("cam-01", "JKL 5555", {{"JKL 5555", 0.88}}, kT0))[0], kT0));
  json no_text = e;
  no_text["plate"].erase("normalized_text");
  EXPECT_NE(
      ParsePlateEvent(no_text.dump()).status().message().find("/plate/normalized_text is missing"),
      std::string::npos);
  json bad_time = e;
  bad_time["captured_at"] = "yesterday";
  EXPECT_NE(ParsePlateEvent(bad_time.dump()).status().message().find("/captured_at \"yesterday\""),
            std::string::npos);
  EXPECT_FALSE(ParsePlateEvent("[1,2]").ok());
}

TEST(CameraSimulator, IsDeterministicPerSeedAndInCaptureOrder) {
  CameraSimOptions o;
  o.seed = 11;
  o.cameras = 5;
  o.start_ms = kT0;
  CameraSimulator a(o), b(o);
  int64_t last = 0;
  std::set<std::string> cameras;
  for (int i = 0; i < 500; ++i) {
    Pass x = a.Next(), y = b.Next();
    EXPECT_EQ(x.track_id, y.track_id);
    EXPECT_EQ(x.vehicle.plate, y.vehicle.plate);
    ASSERT_EQ(x.reads.size(), y.reads.size());
    EXPECT_GE(x.first_seen_ms, last);
    last = x.first_seen_ms;
    cameras.insert(x.camera_id);
    for (const OcrRead& r : x.reads) {
      EXPECT_GE(r.confidence, 0.0);
      EXPECT_LE(r.confidence, 1.0);
      EXPECT_EQ(r.text.size(), x.vehicle.plate.size());
    }
  }
  EXPECT_EQ(cameras.size(), 5u);
  EXPECT_EQ(a.watchlist().size(), static_cast<size_t>(o.watchlist_size));
}

TEST(PlateStore, StoresAnEventOnceAndCountsIt) {
  TempDir dir;
  auto store = PlateStore::Open(dir.path() + "/plates.sqlite");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EventProcessor proc(Seeded(5));
  auto ev = proc.Process(MakePass("cam-01", "QRS 1111", {{"QRS 1111", 0.9}}, kT0));
  auto row = ParsePlateEvent(EventProcessor::Stamp(ev[0], kT0 + 5));
  ASSERT_TRUE(row.ok());
  EXPECT_TRUE(*(*store)->Insert(*row));
  EXPECT_FALSE(*(*store)->Insert(*row));  // redelivered
  EXPECT_EQ(*(*store)->Count(), 1);
  EXPECT_EQ(*(*store)->EventIds(), std::vector<std::string>{row->event_id});
  EXPECT_FALSE(PlateStore::Open(dir.path() + "/no/such/folder/x.sqlite").ok());
}

TEST(Watchlist, LoadsPlatesAndNamesTheBadLine) {
  TempDir dir;
  auto good =
      Watchlist::Load(dir.WriteFile("w.txt", "# stolen\nabc-1234, stolen vehicle\n\nXYZ9876\n"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->size(), 2u);
  EXPECT_EQ(good->Find("ABC1234").value_or(""), "stolen vehicle");
  EXPECT_EQ(good->Find("XYZ9876").value_or(""), "watchlist");
  EXPECT_FALSE(good->Find("ABC123").has_value());
  const std::string bad = dir.WriteFile("bad.txt", "ABC1234\nTHIS PLATE IS TOO LONG\n");
  auto w = Watchlist::Load(bad);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find(bad + ":2:"), std::string::npos) << w.status().message();
  EXPECT_EQ(Watchlist::Load(dir.path() + "/missing.txt").status().code(),
            weir::StatusCode::kNotFound);
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto idx = SearchIndex::Open(dir_.path() + "/search.sqlite");
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    index_ = std::move(*idx);
    Add("e1", "ABC1234", "cam-01", kT0);
    Add("e2", "ABC1234", "cam-02", kT0 + 60'000);
    Add("e3", "A8C1Z34", "cam-01", kT0 + 120'000);  // the same plate, misread
    Add("e4", "XYZ9876", "cam-01", kT0 + 180'000);
    Add("e5", "ABD7777", "cam-03", kT0 + 240'000);
  }
  void Add(const std::string& id, const std::string& plate, const std::string& camera, int64_t at) {
    PlateRow r;
    r.event_id = id;
    r.normalized_text = plate;
    r.plate_text = plate;
    r.camera_id = camera;
    r.captured_ms = at;
    r.captured_at = weir::consume::FormatDlqTimestamp(at);
    r.confidence = 0.9;
    ASSERT_TRUE(index_->Index(r).ok());
  }
  std::vector<std::string> Ids(const SearchQuery& q) {
    auto hits = index_->Search(q);
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    std::vector<std::string> ids;
    if (hits.ok()) {
      for (const SearchHit& h : *hits) ids.push_back(h.event_id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  TempDir dir_;
  std::unique_ptr<SearchIndex> index_;
};

TEST_F(SearchTest, FindsThePlateThroughOcrConfusionsAndTypos) {
  EXPECT_EQ(Ids(Q("abc-1234")), (std::vector<std::string>{"e1", "e2", "e3"}));
  EXPECT_EQ(Ids(Q("A8C 1234")), (std::vector<std::string>{"e1", "e2", "e3"}));
  // One wrong character (not a confusion): similarity 6/7.
  EXPECT_EQ(Ids(Q("ABC1284")), (std::vector<std::string>{"e1", "e2", "e3"}));
  // Stricter: only exact (folded) matches.
  EXPECT_EQ(Ids(Q("ABC1284", "", {}, {}, 0.95)), std::vector<std::string>{});
  // A fragment is a substring match.
  EXPECT_EQ(Ids(Q("9876")), std::vector<std::string>{"e4"});
  EXPECT_EQ(Ids(Q("XY")), std::vector<std::string>{"e4"});
}

TEST_F(SearchTest, FiltersByCameraAndTimeRange) {
  EXPECT_EQ(Ids(Q("ABC1234", "cam-01")), (std::vector<std::string>{"e1", "e3"}));
  EXPECT_EQ(Ids(Q("ABC1234", "", kT0 + 60'000, kT0 + 120'000)), std::vector<std::string>{"e2"});
  EXPECT_EQ(Ids(Q("", "cam-01", kT0 + 100'000)), (std::vector<std::string>{"e3", "e4"}));
  EXPECT_EQ(Ids(Q("", "", {}, {}, 0.7, 2)).size(), 2u);
}

TEST_F(SearchTest, IndexingTwiceKeepsOneDocument) {
  Add("e1", "ABC1234", "cam-01", kT0);
  EXPECT_EQ(*index_->Count(), 5);
  EXPECT_EQ(Ids(Q("ABC1234", "cam-01")).size(), 2u);
}

TEST(FoldPlate, FoldsOcrConfusionsAndDropsPunctuation) {
  EXPECT_EQ(FoldPlate("abc-1234"), "A8C1234");
  EXPECT_EQ(FoldPlate("O I B S Z"), "01852");
  EXPECT_EQ(FoldPlate("\"x\" OR y*"), "X0RY");
}

}  // namespace
}  // namespace alpr
