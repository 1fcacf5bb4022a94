// tests/registry/registry_server.h — weir's registry REST API served on
// 127.0.0.1 (a free port) by a real cpp-httplib server, over a local registry
// in a temporary folder.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "registry/rest_api.h"
#include "support/test_support.h"
#include "weir/registry/registry.h"

namespace weir::registry {

class RegistryServer {
 public:
  // |configure| may add handlers (e.g. an auth check) before the API.
  explicit RegistryServer(CompatibilityLevel level = CompatibilityLevel::kBackward,
                          std::function<void(httplib::Server&)> configure = nullptr) {
    auto reg = OpenLocalRegistry(dir_.path() + "/reg", level);
    if (!reg.ok()) throw std::runtime_error(reg.status().ToString());
    registry_ = std::move(reg).value();
    if (configure) configure(server_);
    MountRegistryApi(server_, *registry_);
    // bind_to_any_port() also listens, so clients may connect before the
    // accept loop starts: no waiting needed.
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RegistryServer() {
    server_.stop();
    thread_.join();
  }
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  Registry& registry() { return *registry_; }

 private:
  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace weir::registry
