// tests/schema/avro/avro_test_util.h — helpers for the Avro codec tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "weir/schema/avro.h"

namespace weir::schema::testing {

inline std::string ReadCaseFile(const std::string& name) {
  std::ifstream in(std::string(WEIR_SOURCE_DIR) + "/tests/schema/avro/cases/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string ToHex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

inline std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Parses |json| (a schema as a JSON value) or fails the test.
inline AvroSchema MustParse(const nlohmann::json& json) {
  auto s = AvroSchema::Parse(json.dump());
  if (!s.ok()) {
    ADD_FAILURE() << "schema " << json.dump() << ": " << s.status().ToString();
    return *AvroSchema::Parse("\"null\"");
  }
  return *s;
}

}  // namespace weir::schema::testing
