#include "schema/json/uri.h"

#include <gtest/gtest.h>

namespace weir::schema::json {
namespace {

// The examples of RFC 3986 section 5.4, against base "http://a/b/c/d;p?q".
TEST(UriTest, ResolvesRfc3986Examples) {
  const char* base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {"g/../h", "http://a/b/c/h"},
  };
  for (const auto& [ref, want] : cases) EXPECT_EQ(ResolveUri(base, ref), want) << ref;
}

TEST(UriTest, ResolvesUrnsAndEmptyBases) {
  EXPECT_EQ(ResolveUri("urn:uuid:deadbeef", "#/$defs/a"), "urn:uuid:deadbeef#/$defs/a");
  EXPECT_EQ(ResolveUri("", "#foo"), "#foo");
  EXPECT_EQ(ResolveUri("", "item.json"), "item.json");
}

TEST(UriTest, SplitsAndDecodes) {
  std::string doc;
  std::string fragment;
  SplitFragment("http://x/y.json#/a/b", &doc, &fragment);
  EXPECT_EQ(doc, "http://x/y.json");
  EXPECT_EQ(fragment, "/a/b");
  EXPECT_EQ(PercentDecode("percent%25field%2"), "percent%field%2");
}

}  // namespace
}  // namespace weir::schema::json
