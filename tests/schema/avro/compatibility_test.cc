// Schema Registry compatibility levels: real evolution steps, each checked at
// the levels where it should pass and fail, with kinds and paths.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "schema/avro/avro_test_util.h"
#include "weir/schema/avro.h"
#include "weir/schema/avro_compatibility.h"

namespace weir::schema {
namespace {

using nlohmann::json;
using testing::MustParse;

constexpr AvroCompatibility kAllLevels[] = {
    AvroCompatibility::kNone,
    AvroCompatibility::kBackward,
    AvroCompatibility::kBackwardTransitive,
    AvroCompatibility::kForward,
    AvroCompatibility::kForwardTransitive,
    AvroCompatibility::kFull,
    AvroCompatibility::kFullTransitive,
};

// A record "Ev" with |fields| (a JSON array of Avro fields).
AvroSchema Record(const json& fields) {
  return MustParse(
      json{{"type", "record"}, {"name", "Ev"}, {"namespace", "t"}, {"fields", fields}});
}

// One incompatibility as "direction@version kind path", for compact checks.
std::vector<std::string> Summary(const std::vector<AvroIncompatibility>& found) {
  std::vector<std::string> out;
  for (const AvroIncompatibility& i : found) {
    out.push_back(i.direction + "@" + std::to_string(i.version_index) + " " + i.kind + " " +
                  i.path);
  }
  return out;
}

std::vector<std::string> Check(const AvroSchema& candidate, const std::vector<AvroSchema>& history,
                               AvroCompatibility level) {
  return Summary(CheckCompatibility(candidate, history, level));
}

using Lines = std::vector<std::string>;

TEST(AvroCompatibilityTest, NamesRoundTripAndUnknownNamesListTheValidOnes) {
  for (AvroCompatibility level : kAllLevels) {
    auto parsed = ParseAvroCompatibility(AvroCompatibilityName(level));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, level);
  }
  EXPECT_EQ(AvroCompatibilityName(AvroCompatibility::kBackwardTransitive), "BACKWARD_TRANSITIVE");
  EXPECT_EQ(AvroCompatibilityName(AvroCompatibility::kFull), "FULL");
  for (std::string_view bad : {"", "backward", "FULLTRANSITIVE", "BACKWARD ", "SIDEWAYS"}) {
    auto parsed = ParseAvroCompatibility(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    const std::string message = parsed.status().message();
    for (AvroCompatibility level : kAllLevels) {
      EXPECT_NE(message.find(AvroCompatibilityName(level)), std::string::npos) << message;
    }
  }
}

TEST(AvroCompatibilityTest, AddingAFieldWithADefaultIsFullyCompatible) {
  AvroSchema v1 = Record(json::parse(R"([{"name": "id", "type": "string"}])"));
  AvroSchema v2 = Record(json::parse(
      R"([{"name": "id", "type": "string"}, {"name": "note", "type": "string", "default": ""}])"));
  for (AvroCompatibility level : kAllLevels) {
    EXPECT_EQ(Check(v2, {v1}, level), Lines{}) << AvroCompatibilityName(level);
  }
}

TEST(AvroCompatibilityTest, AddingAFieldWithoutADefaultBreaksBackward) {
  AvroSchema v1 = Record(json::parse(R"([{"name": "id", "type": "string"}])"));
  AvroSchema v2 = Record(
      json::parse(R"([{"name": "id", "type": "string"}, {"name": "plate", "type": "string"}])"));
  const Lines broken = {"backward@0 reader_field_missing_default Ev.plate"};
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kBackward), broken);
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kBackwardTransitive), broken);
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kForward), Lines{});
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kForwardTransitive), Lines{});
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kFull), broken);
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kNone), Lines{});

  auto found = CheckCompatibility(v2, {v1}, AvroCompatibility::kBackward);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].message.find("no default"), std::string::npos) << found[0].message;
}

TEST(AvroCompatibilityTest, RemovingAFieldTheOldSchemaNeedsBreaksForward) {
  AvroSchema v1 = Record(
      json::parse(R"([{"name": "id", "type": "string"}, {"name": "plate", "type": "string"}])"));
  AvroSchema v2 = Record(json::parse(R"([{"name": "id", "type": "string"}])"));
  const Lines broken = {"forward@0 reader_field_missing_default Ev.plate"};
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kForward), broken);
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kFull), broken);
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kFullTransitive), broken);

  // Had the old schema a default for it, removing the field is fine.
  AvroSchema v1_default = Record(json::parse(
      R"([{"name": "id", "type": "string"}, {"name": "plate", "type": "string", "default": ""}])"));
  EXPECT_EQ(Check(v2, {v1_default}, AvroCompatibility::kFull), Lines{});
}

TEST(AvroCompatibilityTest, IntToLongPromotesOnlyBackward) {
  AvroSchema v1 = Record(json::parse(R"([{"name": "n", "type": "int"}])"));
  AvroSchema v2 = Record(json::parse(R"([{"name": "n", "type": "long"}])"));
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kForward), Lines{"forward@0 type_mismatch Ev.n"});
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kFull), Lines{"forward@0 type_mismatch Ev.n"});
  // And the other way round.
  EXPECT_EQ(Check(v1, {v2}, AvroCompatibility::kBackward), Lines{"backward@0 type_mismatch Ev.n"});
  EXPECT_EQ(Check(v1, {v2}, AvroCompatibility::kForward), Lines{});
}

TEST(AvroCompatibilityTest, AnUnrelatedTypeChangeBreaksBothDirections) {
  AvroSchema v1 = Record(json::parse(R"([{"name": "n", "type": "string"}])"));
  AvroSchema v2 = Record(json::parse(R"([{"name": "n", "type": "int"}])"));
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kFull),
            (Lines{"backward@0 type_mismatch Ev.n", "forward@0 type_mismatch Ev.n"}));
}

TEST(AvroCompatibilityTest, EnumSymbols) {
  auto with_symbols = [](const json& symbols, const json& extra = json::object()) {
    json e = {{"type", "enum"}, {"name", "Colour"}, {"symbols", symbols}};
    e.update(extra);
    return Record(json::array({json{{"name", "colour"}, {"type", e}}}));
  };
  AvroSchema v1 = with_symbols({"RED", "BLUE"});
  AvroSchema added = with_symbols({"RED", "BLUE", "GREEN"});
  AvroSchema removed = with_symbols({"RED"});

  EXPECT_EQ(Check(added, {v1}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(added, {v1}, AvroCompatibility::kForward),
            Lines{"forward@0 missing_enum_symbol Ev.colour"});
  EXPECT_EQ(Check(removed, {v1}, AvroCompatibility::kBackward),
            Lines{"backward@0 missing_enum_symbol Ev.colour"});
  EXPECT_EQ(Check(removed, {v1}, AvroCompatibility::kForward), Lines{});
  auto found = CheckCompatibility(removed, {v1}, AvroCompatibility::kBackward);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].message.find("BLUE"), std::string::npos) << found[0].message;

  // An enum default in the old schema lets it read symbols it does not know.
  AvroSchema v1_default = with_symbols({"RED", "BLUE"}, {{"default", "RED"}});
  AvroSchema added_default = with_symbols({"RED", "BLUE", "GREEN"}, {{"default", "RED"}});
  EXPECT_EQ(Check(added_default, {v1_default}, AvroCompatibility::kFull), Lines{});
}

TEST(AvroCompatibilityTest, UnionBranches) {
  AvroSchema v1 = Record(json::parse(R"([{"name": "u", "type": ["null", "string"]}])"));
  AvroSchema added = Record(json::parse(R"([{"name": "u", "type": ["null", "string", "long"]}])"));
  EXPECT_EQ(Check(added, {v1}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(added, {v1}, AvroCompatibility::kForward),
            Lines{"forward@0 missing_union_branch Ev.u"});
  // Removing the branch again: v1 can no longer read "long" data of |added|.
  EXPECT_EQ(Check(v1, {added}, AvroCompatibility::kBackward),
            Lines{"backward@0 missing_union_branch Ev.u"});
  EXPECT_EQ(Check(v1, {added}, AvroCompatibility::kForward), Lines{});
  // Making a field nullable is backward compatible only.
  AvroSchema plain = Record(json::parse(R"([{"name": "u", "type": "string"}])"));
  EXPECT_EQ(Check(v1, {plain}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(v1, {plain}, AvroCompatibility::kForward), Lines{"forward@0 type_mismatch Ev.u"});
}

TEST(AvroCompatibilityTest, NestedRecordChangesNameTheParent) {
  auto with_colour = [](const char* colour_type) {
    json vehicle = {{"type", "record"},
                    {"name", "Vehicle"},
                    {"fields", json::array({json{{"name", "make"}, {"type", "string"}},
                                            json{{"name", "colour"}, {"type", colour_type}}})}};
    return Record(json::array({json{{"name", "vehicle"}, {"type", vehicle}}}));
  };
  AvroSchema v1 = with_colour("string");
  AvroSchema v2 = with_colour("boolean");
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kFull),
            (Lines{"backward@0 type_mismatch Ev.vehicle.colour",
                   "forward@0 type_mismatch Ev.vehicle.colour"}));
  // Inside arrays and maps too.
  AvroSchema a1 = Record(json::parse(R"([{"name": "xs", "type": {"type": "array", "items": "int"}},
      {"name": "m", "type": {"type": "map", "values": "string"}}])"));
  AvroSchema a2 = Record(json::parse(R"([{"name": "xs", "type": {"type": "array", "items": "long"}},
      {"name": "m", "type": {"type": "map", "values": "int"}}])"));
  EXPECT_EQ(Check(a2, {a1}, AvroCompatibility::kFull),
            (Lines{"backward@0 type_mismatch Ev.m{}", "forward@0 type_mismatch Ev.xs[]",
                   "forward@0 type_mismatch Ev.m{}"}));
}

TEST(AvroCompatibilityTest, FixedSizeAndNameChanges) {
  auto fixed = [](const char* name, int size) {
    return Record(json::array(
        {json{{"name", "hash"}, {"type", {{"type", "fixed"}, {"name", name}, {"size", size}}}}}));
  };
  AvroSchema v1 = fixed("Hash", 16);
  EXPECT_EQ(
      Check(fixed("Hash", 8), {v1}, AvroCompatibility::kFull),
      (Lines{"backward@0 fixed_size_mismatch Ev.hash", "forward@0 fixed_size_mismatch Ev.hash"}));
  EXPECT_EQ(Check(fixed("Digest", 16), {v1}, AvroCompatibility::kBackward),
            Lines{"backward@0 name_mismatch Ev.hash"});

  // A renamed record with an alias for the old name reads old data.
  AvroSchema old_name = MustParse(json::parse(
      R"({"type": "record", "name": "Old", "namespace": "t", "fields": [{"name": "a", "type": "int"}]})"));
  AvroSchema new_name = MustParse(json::parse(
      R"({"type": "record", "name": "New", "namespace": "t", "aliases": ["t.Old"],
          "fields": [{"name": "a", "type": "int"}]})"));
  EXPECT_EQ(Check(new_name, {old_name}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(new_name, {old_name}, AvroCompatibility::kForward),
            Lines{"forward@0 name_mismatch Old"});
}

TEST(AvroCompatibilityTest, TransitiveLevelsCheckEveryEarlierVersion) {
  // v1 has no plate; v2 adds it with a default; v3 drops the default. v3 can
  // read v2's data (it has the plate) but not v1's.
  AvroSchema v1 = Record(json::parse(R"([{"name": "id", "type": "string"}])"));
  AvroSchema v2 = Record(json::parse(
      R"([{"name": "id", "type": "string"}, {"name": "plate", "type": "string", "default": ""}])"));
  AvroSchema v3 = Record(
      json::parse(R"([{"name": "id", "type": "string"}, {"name": "plate", "type": "string"}])"));
  EXPECT_EQ(Check(v3, {v1, v2}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(v3, {v1, v2}, AvroCompatibility::kBackwardTransitive),
            Lines{"backward@0 reader_field_missing_default Ev.plate"});
  EXPECT_EQ(Check(v3, {v1, v2}, AvroCompatibility::kFull), Lines{});
  EXPECT_EQ(Check(v3, {v1, v2}, AvroCompatibility::kFullTransitive),
            Lines{"backward@0 reader_field_missing_default Ev.plate"});

  // Forward: v1 requires the plate, v2 gives it a default, v3 removes it.
  AvroSchema f1 = v3;
  AvroSchema f2 = v2;
  AvroSchema f3 = v1;
  EXPECT_EQ(Check(f3, {f1, f2}, AvroCompatibility::kForward), Lines{});
  EXPECT_EQ(Check(f3, {f1, f2}, AvroCompatibility::kForwardTransitive),
            Lines{"forward@0 reader_field_missing_default Ev.plate"});
  EXPECT_EQ(Check(f3, {f1, f2}, AvroCompatibility::kFull), Lines{});
  EXPECT_EQ(Check(f3, {f1, f2}, AvroCompatibility::kFullTransitive),
            Lines{"forward@0 reader_field_missing_default Ev.plate"});

  // Non-transitive levels compare with the latest version only, whatever it is.
  EXPECT_EQ(Check(v3, {v2, v1}, AvroCompatibility::kBackward),
            Lines{"backward@1 reader_field_missing_default Ev.plate"});
}

TEST(AvroCompatibilityTest, NoneAndEmptyHistoryAcceptAnything) {
  AvroSchema record = Record(json::parse(R"([{"name": "id", "type": "string"}])"));
  AvroSchema other = MustParse(json::parse(R"({"type": "array", "items": "bytes"})"));
  EXPECT_TRUE(CheckCompatibility(other, {record}, AvroCompatibility::kNone).empty());
  EXPECT_TRUE(CheckCompatibility(other, {record, other, record}, AvroCompatibility::kNone).empty());
  EXPECT_FALSE(CheckCompatibility(other, {record}, AvroCompatibility::kBackward).empty());
  for (AvroCompatibility level : kAllLevels) {
    EXPECT_TRUE(CheckCompatibility(other, {}, level).empty()) << AvroCompatibilityName(level);
  }
}

TEST(AvroCompatibilityTest, RecursiveSchemasTerminate) {
  AvroSchema v1 = MustParse(json::parse(R"({"type": "record", "name": "Node", "fields": [
      {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]})"));
  AvroSchema v2 = MustParse(json::parse(R"({"type": "record", "name": "Node", "fields": [
      {"name": "v", "type": "long"}, {"name": "next", "type": ["null", "Node"]}]})"));
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kBackward), Lines{});
  EXPECT_EQ(Check(v2, {v1}, AvroCompatibility::kForward), Lines{"forward@0 type_mismatch Node.v"});
}

TEST(AvroCompatibilityTest, AlprPlateEventEvolution) {
  std::ifstream in(std::string(WEIR_SOURCE_DIR) + "/examples/alpr/schemas/plate_event.avsc");
  ASSERT_TRUE(in.good());
  const json plate_event = json::parse(in);
  AvroSchema v1 = MustParse(plate_event);

  // Adding a nullable field with default null is FULL compatible.
  json with_lane = plate_event;
  with_lane["fields"].push_back(
      {{"name", "lane"}, {"type", {"null", "string"}}, {"default", nullptr}});
  AvroSchema v2 = MustParse(with_lane);
  for (AvroCompatibility level : kAllLevels) {
    EXPECT_EQ(Check(v2, {v1}, level), Lines{}) << AvroCompatibilityName(level);
  }

  // A required field inside the nested vehicle record breaks BACKWARD at its
  // full path; and dropping the required published_at breaks FORWARD.
  json broken = with_lane;
  for (json& field : broken["fields"]) {
    if (field["name"] == "vehicle") {
      field["type"]["fields"].push_back({{"name", "colour_confidence"}, {"type", "float"}});
    }
  }
  json& fields = broken["fields"];
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if ((*it)["name"] == "published_at") {
      fields.erase(it);
      break;
    }
  }
  AvroSchema v3 = MustParse(broken);
  EXPECT_EQ(Check(v3, {v1, v2}, AvroCompatibility::kBackward),
            Lines{"backward@1 reader_field_missing_default PlateEvent.vehicle.colour_confidence"});
  EXPECT_EQ(Check(v3, {v1, v2}, AvroCompatibility::kFullTransitive),
            (Lines{"backward@0 reader_field_missing_default PlateEvent.vehicle.colour_confidence",
                   "forward@0 reader_field_missing_default PlateEvent.published_at",
                   "backward@1 reader_field_missing_default PlateEvent.vehicle.colour_confidence",
                   "forward@1 reader_field_missing_default PlateEvent.published_at"}));
}

}  // namespace
}  // namespace weir::schema
