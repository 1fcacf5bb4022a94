// ClientConfig and the property checks every client applies: unknown or
// invalid properties name the property, secret values never appear.
#include "weir/kafka/client_config.h"

#include <gtest/gtest.h>

#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/topology.h"

namespace weir::kafka {
namespace {

constexpr const char* kSecret = "s3cr3t-Value-42";

TEST(ClientConfigTest, SetGetDefaultErase) {
  ClientConfig c;
  c.Set("a", "1").SetDefault("a", "2").SetDefault("b", "3");
  EXPECT_EQ(c.Get("a"), "1");
  EXPECT_EQ(c.Get("b"), "3");
  EXPECT_TRUE(c.Has("b"));
  c.Erase("b");
  EXPECT_FALSE(c.Has("b"));
  EXPECT_EQ(c.Get("b"), "");
  c.Erase("never-set");
}

TEST(ClientConfigTest, AssignmentsAndRedaction) {
  ClientConfig c;
  EXPECT_TRUE(c.SetFromAssignment("linger.ms=10", "-X").ok());
  EXPECT_TRUE(c.SetFromAssignment("sasl.password=" + std::string(kSecret), "-X").ok());
  EXPECT_TRUE(c.SetFromAssignment("client.id=a=b", "-X").ok());
  EXPECT_EQ(c.Get("client.id"), "a=b");
  EXPECT_EQ(c.Get("sasl.password"), kSecret);

  Status bad = c.SetFromAssignment(kSecret, "-X");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("-X"), std::string::npos);
  EXPECT_EQ(bad.message().find(kSecret), std::string::npos);
  EXPECT_EQ(c.SetFromAssignment("=x", "-X").code(), StatusCode::kInvalidArgument);

  std::string text = c.ToRedactedString();
  EXPECT_NE(text.find("linger.ms=10\n"), std::string::npos);
  EXPECT_NE(text.find("sasl.password=[redacted]\n"), std::string::npos);
  EXPECT_EQ(text.find(kSecret), std::string::npos);
}

TEST(ClientConfigTest, FromTopology) {
  Topology t;
  t.cluster.embedded = false;
  t.cluster.bootstrap_servers = "k1:9092,k2:9092";
  t.cluster.client_id = "alpr";
  t.cluster.properties["security.protocol"] = PropertyValue{"sasl_ssl", false, {}};
  t.cluster.properties["sasl.password"] = PropertyValue{kSecret, true, {}};
  ClientConfig c = ClientConfig::FromTopology(t, "");
  EXPECT_EQ(c.Get("bootstrap.servers"), "k1:9092,k2:9092");
  EXPECT_EQ(c.Get("client.id"), "alpr");
  EXPECT_EQ(c.Get("security.protocol"), "sasl_ssl");
  EXPECT_EQ(c.Get("sasl.password"), kSecret);
  EXPECT_EQ(ClientConfig::FromTopology(t, "other:1").Get("bootstrap.servers"), "other:1");

  t.cluster.embedded = true;
  t.cluster.bootstrap_servers.clear();
  EXPECT_FALSE(ClientConfig::FromTopology(t, "").Has("bootstrap.servers"));
  EXPECT_EQ(ClientConfig::FromTopology(t, "h:1").Get("bootstrap.servers"), "h:1");
}

TEST(ClientConfigTest, UnknownPropertyIsNamed) {
  ClientConfig c;
  c.Set("bootstrap.servers", "127.0.0.1:1");
  c.Set("no.such.property", "1");
  auto p = Producer::Create(c);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("no.such.property"), std::string::npos);
  auto cons = Consumer::Create(c, {});
  ASSERT_FALSE(cons.ok());
  EXPECT_NE(cons.status().message().find("no.such.property"), std::string::npos);
  auto a = Admin::Create(c);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("no.such.property"), std::string::npos);
}

TEST(ClientConfigTest, InvalidValueIsNamed) {
  ClientConfig c;
  c.Set("bootstrap.servers", "127.0.0.1:1");
  c.Set("acks", "sometimes");
  auto p = Producer::Create(c);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("\"acks\""), std::string::npos) << p.status().ToString();
}

TEST(ClientConfigTest, SecretValuesNeverAppearInErrors) {
  // An unknown secret-looking property (a Java client setting).
  {
    ClientConfig c;
    c.Set("bootstrap.servers", "127.0.0.1:1");
    c.Set("ssl.truststore.password", kSecret);
    auto p = Producer::Create(c);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.status().message().find("ssl.truststore.password"), std::string::npos);
    EXPECT_EQ(p.status().ToString().find(kSecret), std::string::npos) << p.status().ToString();
  }
  // A secret librdkafka accepts, next to a bad property: only the bad one is named.
  {
    ClientConfig c;
    c.Set("bootstrap.servers", "127.0.0.1:1");
    c.Set("sasl.password", kSecret);
    c.Set("security.protocol", "sasl_plaintext");
    c.Set("sasl.mechanism", "NOT-A-MECHANISM");
    auto p = Producer::Create(c);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(p.status().ToString().find(kSecret), std::string::npos) << p.status().ToString();
  }
  // A secret in a cross-property check at client creation: the SASL/SSL key
  // password is quoted nowhere, even when creation fails.
  {
    ClientConfig c;
    c.Set("bootstrap.servers", "127.0.0.1:1");
    c.Set("security.protocol", "ssl");
    c.Set("ssl.key.pem", kSecret);
    c.Set("ssl.key.password", kSecret);
    auto p = Producer::Create(c);
    if (!p.ok()) {
      EXPECT_EQ(p.status().ToString().find(kSecret), std::string::npos) << p.status().ToString();
    }
  }
}

}  // namespace
}  // namespace weir::kafka
