// weir-deeplens — the DeepLens image pipeline of the user's plan
// (shared/seeds/deeplens-kafka-usage.md) running on weir:
//
//   serve     the upload API and the pipeline's workers (all, or the
//             --role given), until Ctrl-C
//   upload    POST image files to a running upload API
//   samples   write the generated sample images to a folder
//   index     list the vector index: images, duplicates, similar images
//   run       everything in one process on generated images, with a check
//             of every outcome: the example's one command
//
// On the embedded cluster (weir.yaml's default) the declared topics are
// created on first use; against a real cluster (-b or cluster.bootstrap)
// create them with `weir topics apply` first.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/uuid.h"
#include "deeplens_events.h"
#include "example_cli.h"
#include "image_codec.h"
#include "image_features.h"
#include "pipeline_observer.h"
#include "sample_images.h"
#include "stage_worker.h"
#include "upload_api.h"
#include "vector_index.h"
#include "weir/publish/publisher.h"
#include "weir/topology.h"

namespace weir::examples {
namespace {

using deeplens::Expect;
using deeplens::SampleImage;
using deeplens::Stage;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Program kProgram{
    .name = "weir-deeplens",
    .system = "deeplens",
    .config_help = "The DeepLens topology",
    .bootstrap_help = kBootstrapHelp,
};

// Options every subcommand takes: the examples' common ones and DeepLens's.
struct Common : CommonOptions {
  std::string state_dir;  // blobs, index, spool; default .weir/deeplens beside weir.yaml
  uint64_t max_image_bytes = deeplens::ImageLimits{}.max_bytes;
  int duplicate_distance = deeplens::kDefaultDuplicateDistance;
};

// "<weir.yaml folder>/.weir/deeplens" unless --state-dir.
std::string StateDir(const Common& c, const weir::Topology& t) {
  if (!c.state_dir.empty()) return c.state_dir;
  return weir::examples::StateDir(t, kProgram.system);
}

std::string IndexPath(const Common& c, const weir::Topology& t) {
  return StateDir(c, t) + "/index.sqlite";
}

// The topology, a connection to its cluster and the state folder, for one
// command.
struct Setup : weir::examples::Setup {
  std::string state;
};

Setup Connect(const Common& c) {
  weir::examples::Setup base = weir::examples::Connect(c);
  std::string state = StateDir(c, base.topology);
  std::error_code ec;
  std::filesystem::create_directories(state, ec);
  if (ec) throw CommandError{kExitFailed, fmt::format("creating {}: {}", state, ec.message())};
  return Setup{std::move(base), std::move(state)};
}

void PrintCluster(const Setup& s) {
  weir::examples::PrintCluster(s);
  fmt::print("state:   {} (blobs/, index.sqlite, spool/)\n", s.state);
}

std::unique_ptr<weir::publish::Publisher> MakePublisher(const Setup& s, const std::string& name) {
  return weir::examples::MakePublisher(s, s.state + "/spool/" + name);
}

deeplens::ImageLimits Limits(const Common& c) {
  deeplens::ImageLimits l;
  l.max_bytes = c.max_image_bytes;
  return l;
}

std::unique_ptr<deeplens::StageWorker> MakeWorker(const Setup& s, const Common& c, Stage stage,
                                                  weir::publish::Publisher* publisher, bool print) {
  deeplens::StageWorkerOptions o;
  o.limits = Limits(c);
  o.index_path = s.state + "/index.sqlite";
  o.duplicate_distance = c.duplicate_distance;
  if (print) {
    o.on_outcome = [](Stage st, const json& e, bool failed) {
      Say(fmt::format("{:<18} {} {}", deeplens::StageName(st), e.value("image_id", ""),
                      failed ? "failed: " + e.value("reason", "") : std::string("ok")));
    };
  }
  auto w = deeplens::StageWorker::Create(stage, s.topology, s.conn.config, publisher, o);
  if (!w.ok()) throw CommandError{kExitBadInput, w.status().ToString()};
  return std::move(*w);
}

std::string IndexedLine(const json& e) {
  return fmt::format("indexed  {} {:<14} {}", e.value("image_id", ""), e.value("tenant_id", ""),
                     e["duplicate_of"].is_null() ? std::string("original")
                                                 : fmt::format("duplicate of {} ({} bits apart)",
                                                               e["duplicate_of"].get<std::string>(),
                                                               e["hash_distance"].get<int>()));
}

std::string FailedLine(const deeplens::FailedImage& f) {
  return fmt::format("failed   {} {:<14} [{}] {}", f.image_id, f.tenant_id, f.reason_code,
                     f.reason);
}

// --- serve --------------------------------------------------------------------

constexpr const char* kRoles[] = {"api", "validation", "features", "index", "observer"};

int ServeCommand(const Common& c, std::vector<std::string> roles, const std::string& listen,
                 int duration_s) {
  if (roles.empty()) roles.assign(std::begin(kRoles), std::end(kRoles));
  const std::set<std::string> want(roles.begin(), roles.end());
  Setup s = Connect(c);
  PrintCluster(s);
  auto publisher = MakePublisher(s, "serve");
  std::vector<std::unique_ptr<deeplens::StageWorker>> workers;
  const std::pair<const char*, Stage> stages[] = {{"validation", Stage::kValidation},
                                                  {"features", Stage::kFeatureExtraction},
                                                  {"index", Stage::kIndexing}};
  for (const auto& [role, stage] : stages) {
    if (want.count(role) == 0) continue;
    workers.push_back(MakeWorker(s, c, stage, publisher.get(), true));
    Check(workers.back()->Start(), fmt::format("starting the {} worker", role));
    fmt::print("{} worker: group {}\n", role, deeplens::StageGroup(stage));
  }
  std::unique_ptr<deeplens::PipelineObserver> observer;
  if (want.count("observer") != 0) {
    deeplens::PipelineObserverOptions oo;
    oo.on_indexed = [](const json& e) { Say(IndexedLine(e)); };
    oo.on_failed = [](const deeplens::FailedImage& f) { Say(FailedLine(f)); };
    auto o = deeplens::PipelineObserver::Create(s.topology, s.conn.config, oo);
    if (!o.ok()) throw CommandError{kExitBadInput, o.status().ToString()};
    observer = std::move(*o);
    Check(observer->Start(), "starting the observer");
    fmt::print("observer: groups search-service, error-handler-service, billing-service\n");
  }
  std::unique_ptr<deeplens::UploadApi> api;
  if (want.count("api") != 0) {
    deeplens::UploadApiOptions ao;
    ao.listen = listen;
    ao.limits = Limits(c);
    ao.blob_root = s.state + "/blobs";
    ao.on_upload = [](const json& e) {
      Say(fmt::format("uploaded {} {:<14} {} ({} bytes)", e["image_id"].get<std::string>(),
                      e["tenant_id"].get<std::string>(), e["original_file_name"].get<std::string>(),
                      e["file_size"].get<uint64_t>()));
    };
    auto a = deeplens::UploadApi::Start(ao, publisher.get());
    if (!a.ok()) throw CommandError{kExitFailed, a.status().ToString()};
    api = std::move(*a);
    fmt::print("upload API: POST {}/api/v1/images?tenant_id=<tenant>&file_name=<name>\n",
               api->url());
  }
  fmt::print("serving; Ctrl-C stops\n");
  std::fflush(stdout);
  StopWatch stop{seconds(duration_s)};
  bool failed = false;
  while (!stop.stopped() && !failed) {
    for (auto& w : workers) failed = failed || w->runtime().WaitStopped(milliseconds(0));
    std::this_thread::sleep_for(milliseconds(200));
  }
  if (api) api->Stop();
  std::vector<std::string> problems;
  for (auto& w : workers) {
    const weir::Status st = w->Stop(seconds(30));
    if (!st.ok()) problems.push_back(st.ToString());
  }
  if (observer) {
    const weir::Status st = observer->Stop(seconds(30));
    if (!st.ok()) problems.push_back(st.ToString());
  }
  const weir::Status closed = publisher->Close(seconds(30));
  if (!closed.ok()) problems.push_back(closed.ToString());
  for (const std::string& p : problems) fmt::print(stderr, "problem: {}\n", p);
  return problems.empty() ? kExitOk : kExitFailed;
}

// --- upload -------------------------------------------------------------------

int UploadCommand(const std::string& url, const std::string& tenant,
                  const std::vector<std::string>& files) {
  int failures = 0;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw CommandError{kExitBadInput, fmt::format("{}: cannot read", f)};
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name = std::filesystem::path(f).filename().string();
    const deeplens::UploadReply r = deeplens::PostImage(url, tenant, name, bytes);
    if (r.status == 202) {
      fmt::print("{} {} {}\n", f, r.image_id(), r.body.value("outcome", ""));
    } else {
      ++failures;
      fmt::print(stderr, "{}: {}\n", f,
                 r.status == 0 ? r.error
                               : fmt::format("HTTP {}: {}", r.status,
                                             r.body.is_object() ? r.body.value("message", "")
                                                                : std::string()));
    }
  }
  return failures == 0 ? kExitOk : kExitFailed;
}

// --- samples ------------------------------------------------------------------

int SamplesCommand(const Common& c, const std::string& dir, uint64_t seed) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw CommandError{kExitFailed, fmt::format("creating {}: {}", dir, ec.message())};
  for (const SampleImage& s : deeplens::MakeSampleSet(seed, "acme", "globex", c.max_image_bytes)) {
    const std::string path = fmt::format("{}/{}-{}", dir, s.tenant_id, s.file_name);
    std::ofstream out(path, std::ios::binary);
    out << s.bytes;
    if (!out) throw CommandError{kExitFailed, "cannot write " + path};
    std::string expect;
    switch (s.expect) {
      case Expect::kOriginal:
        expect = "original";
        break;
      case Expect::kDuplicate:
        expect = "duplicate of " + s.original;
        break;
      case Expect::kFailed:
        expect = fmt::format("fails validation: {}", deeplens::RejectCodeName(s.reject));
        break;
      case Expect::kRefused:
        expect = fmt::format("refused by the API: HTTP {}", s.http_status);
        break;
    }
    fmt::print("{:<40} {:>9} bytes  {}\n", path, s.bytes.size(), expect);
  }
  return kExitOk;
}

// --- index --------------------------------------------------------------------

int IndexCommand(const Common& c, const std::string& db, const std::string& tenant,
                 const std::string& similar_to) {
  const std::string path = db.empty() ? IndexPath(c, LoadTopologyOrThrow(c)) : db;
  if (!std::filesystem::exists(path)) {
    throw CommandError{kExitBadInput, fmt::format("{}: no vector index there", path)};
  }
  auto idx = deeplens::VectorIndex::Open(path);
  if (!idx.ok()) throw CommandError{kExitFailed, idx.status().ToString()};
  if (!similar_to.empty()) {
    auto near = (*idx)->Similar(similar_to, 5);
    if (!near.ok()) throw CommandError{kExitBadInput, near.status().ToString()};
    for (const deeplens::Neighbour& n : *near) {
      fmt::print("{} histogram distance {:.4f}\n", n.image_id, n.distance);
    }
    return kExitOk;
  }
  auto rows = (*idx)->List(tenant);
  if (!rows.ok()) throw CommandError{kExitFailed, rows.status().ToString()};
  for (const deeplens::IndexEntry& e : *rows) {
    fmt::print("{} {:<14} {} {} {}\n", e.image_id, e.tenant_id, deeplens::HashToHex(e.phash),
               e.indexed_at,
               e.duplicate_of ? fmt::format("duplicate of {} ({} bits)", *e.duplicate_of,
                                            e.hash_distance.value_or(-1))
                              : std::string("original"));
  }
  fmt::print("{} images\n", rows->size());
  return kExitOk;
}

// --- run ----------------------------------------------------------------------

struct RunArgs {
  uint64_t seed = 42;
  int timeout_s = 120;
  std::string listen = "127.0.0.1:0";
};

struct Upload {
  const SampleImage* sample = nullptr;
  deeplens::UploadReply reply;
};

int RunCommand(const Common& c, const RunArgs& a) {
  const auto started = std::chrono::steady_clock::now();
  Setup s = Connect(c);
  PrintCluster(s);
  StopWatch stop{seconds(0)};
  const milliseconds timeout = seconds(a.timeout_s);

  auto publisher = MakePublisher(s, "run");
  std::vector<std::unique_ptr<deeplens::StageWorker>> workers;
  for (Stage st : {Stage::kValidation, Stage::kFeatureExtraction, Stage::kIndexing}) {
    workers.push_back(MakeWorker(s, c, st, publisher.get(), false));
  }
  deeplens::PipelineObserverOptions oo;
  oo.on_indexed = [](const json& e) { Say(IndexedLine(e)); };
  oo.on_failed = [](const deeplens::FailedImage& f) { Say(FailedLine(f)); };
  auto observer = deeplens::PipelineObserver::Create(s.topology, s.conn.config, oo);
  if (!observer.ok()) throw CommandError{kExitBadInput, observer.status().ToString()};
  for (auto& w : workers) Check(w->Start(), "starting a worker");
  Check((*observer)->Start(), "starting the observer");
  deeplens::UploadApiOptions ao;
  ao.listen = a.listen;
  ao.limits = Limits(c);
  ao.blob_root = s.state + "/blobs";
  auto api = deeplens::UploadApi::Start(ao, publisher.get());
  if (!api.ok()) throw CommandError{kExitFailed, api.status().ToString()};

  // Fresh tenants per run: the index keeps earlier runs' images, which
  // would otherwise make this run's originals duplicates of theirs.
  const std::string run_id = weir::NewUuidV4().substr(0, 8);
  const std::string tenant_a = "acme-" + run_id, tenant_b = "globex-" + run_id;
  const std::vector<SampleImage> samples =
      deeplens::MakeSampleSet(a.seed, tenant_a, tenant_b, c.max_image_bytes);
  fmt::print(
      "upload API {}; run {}: {} sample images for tenants {} and {} (seed {}), "
      "duplicate threshold {} bits\n",
      (*api)->url(), run_id, samples.size(), tenant_a, tenant_b, a.seed, c.duplicate_distance);
  std::fflush(stdout);

  std::vector<std::string> problems;
  std::vector<Upload> uploads;
  bool complete = true;
  for (int phase = 1; phase <= 2 && complete; ++phase) {
    std::set<std::string> ids;
    for (const SampleImage& sample : samples) {
      if (sample.phase != phase) continue;
      Upload u{&sample, deeplens::PostImage((*api)->url(), sample.tenant_id, sample.file_name,
                                            sample.bytes)};
      Say(fmt::format("upload   {:<24} {:<14} {:>8} bytes -> {}", sample.file_name,
                      sample.tenant_id, sample.bytes.size(),
                      u.reply.status == 202 ? "202 " + u.reply.image_id()
                      : u.reply.status == 0
                          ? u.reply.error
                          : fmt::format("{} {}", u.reply.status,
                                        u.reply.body.is_object() ? u.reply.body.value("message", "")
                                                                 : std::string())));
      if (u.reply.status == 202) ids.insert(u.reply.image_id());
      uploads.push_back(std::move(u));
    }
    complete = (*observer)->WaitForOutcomes(ids, timeout, stop.flag());
    if (!complete && !stop.stopped()) {
      problems.push_back(fmt::format("phase {}: not every upload was indexed or failed within {} s",
                                     phase, a.timeout_s));
    }
  }

  // Expected outcomes, from the samples.
  std::map<std::string, std::string> id_of;  // file_name -> image_id
  for (const Upload& u : uploads) id_of[u.sample->file_name] = u.reply.image_id();
  std::map<std::string, deeplens::TenantUsage> want_usage;
  for (const Upload& u : uploads) {
    if (u.sample->expect == Expect::kRefused) continue;
    deeplens::TenantUsage& t = want_usage[u.sample->tenant_id];
    ++t.uploads;
    t.storage_bytes += static_cast<int64_t>(u.sample->bytes.size());
    if (u.sample->expect == Expect::kFailed) {
      ++t.failed;
    } else {
      ++t.processed;
      ++t.indexed;
    }
  }
  auto usage_matches = [&] {
    const auto got = (*observer)->Usage();
    for (const auto& [tenant, w] : want_usage) {
      auto it = got.find(tenant);
      if (it == got.end()) return false;
      const deeplens::TenantUsage& g = it->second;
      if (g.uploads != w.uploads || g.storage_bytes != w.storage_bytes ||
          g.processed != w.processed || g.indexed != w.indexed || g.failed != w.failed) {
        return false;
      }
    }
    return true;
  };
  const bool usage_ok = complete && (*observer)->WaitUntil(usage_matches, timeout, stop.flag());

  const auto indexed = (*observer)->Indexed();
  const auto failed = (*observer)->Failed();
  int originals = 0, duplicates = 0, rejected = 0, refused = 0;
  for (const Upload& u : uploads) {
    const SampleImage& smp = *u.sample;
    const std::string what = fmt::format("{} ({})", smp.file_name, smp.tenant_id);
    if (smp.expect == Expect::kRefused) {
      if (u.reply.status == smp.http_status) {
        ++refused;
      } else {
        problems.push_back(
            fmt::format("{}: HTTP {}, expected {}", what, u.reply.status, smp.http_status));
      }
      continue;
    }
    if (u.reply.status != 202) {
      problems.push_back(fmt::format("{}: upload answered HTTP {} {}", what, u.reply.status,
                                     u.reply.status == 0 ? u.reply.error : u.reply.body.dump()));
      continue;
    }
    if (!complete) continue;
    const std::string id = u.reply.image_id();
    auto ix = indexed.find(id);
    auto fx = failed.find(id);
    if (smp.expect == Expect::kFailed) {
      if (fx == failed.end() || fx->second.dead_letter || fx->second.stage != "validation" ||
          fx->second.reason_code != deeplens::RejectCodeName(smp.reject)) {
        problems.push_back(fmt::format(
            "{}: expected to fail validation with {}, got {}", what,
            deeplens::RejectCodeName(smp.reject),
            fx != failed.end() ? FailedLine(fx->second)
                               : (ix != indexed.end() ? IndexedLine(ix->second) : "nothing")));
      } else {
        ++rejected;
      }
      continue;
    }
    const std::string want_dup = smp.expect == Expect::kDuplicate ? id_of[smp.original] : "";
    if (ix == indexed.end()) {
      problems.push_back(fmt::format("{}: expected to be indexed, got {}", what,
                                     fx != failed.end() ? FailedLine(fx->second) : "nothing"));
      continue;
    }
    const json& dup = ix->second["duplicate_of"];
    const std::string got_dup = dup.is_string() ? dup.get<std::string>() : "";
    if (got_dup != want_dup) {
      problems.push_back(
          fmt::format("{}: duplicate_of {}, expected {}", what, got_dup.empty() ? "none" : got_dup,
                      want_dup.empty() ? "none" : want_dup + " (" + smp.original + ")"));
    } else if (smp.expect == Expect::kDuplicate) {
      ++duplicates;
    } else {
      ++originals;
    }
  }
  if (complete && !usage_ok) problems.push_back("tenant.usage does not match the uploads");
  for (const std::string& u : (*observer)->Unreadable()) problems.push_back(u);

  // Stopped first, so that the counts below are final.
  (*api)->Stop();
  for (auto& w : workers) {
    const weir::Status st = w->Stop(seconds(10));
    if (!st.ok()) problems.push_back(st.ToString());
  }
  const weir::Status so = (*observer)->Stop(seconds(10));
  if (!so.ok()) problems.push_back(so.ToString());
  const weir::Status sc = publisher->Close(seconds(30));
  if (!sc.ok()) problems.push_back(sc.ToString());

  // Summary.
  const auto usage = (*observer)->Usage();
  uint64_t dead_letters = 0;
  fmt::print("\n== DeepLens summary ==\n");
  for (const auto& w : workers) {
    const auto gs = w->GroupStats();
    const auto st = w->Stats();
    dead_letters += gs.dead_lettered;
    fmt::print("{:<27} {} received, {} passed on, {} failed, {} retries, {} dead-lettered\n",
               deeplens::StageGroup(w->stage()), gs.received, st.passed, st.failed, gs.retries,
               gs.dead_lettered);
  }
  const deeplens::UploadApiStats as = (*api)->Stats();
  fmt::print("upload API                  {} accepted ({} bytes), {} refused, {} failed\n",
             as.accepted, as.bytes, as.refused, as.failed);
  fmt::print(
      "outcomes                    {} originals, {} duplicates found, {} rejected, {} "
      "refused by the API (of {} samples)\n",
      originals, duplicates, rejected, refused, samples.size());
  for (const auto& [tenant, w] : want_usage) {
    auto it = usage.find(tenant);
    const deeplens::TenantUsage g = it == usage.end() ? deeplens::TenantUsage{} : it->second;
    fmt::print("tenant.usage {:<14} {} uploads, {} bytes, {} processed, {} indexed, {} failed\n",
               tenant, g.uploads, g.storage_bytes, g.processed, g.indexed, g.failed);
  }
  if (dead_letters > 0) problems.push_back(fmt::format("{} records dead-lettered", dead_letters));

  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (problems.empty() && complete) {
    fmt::print(
        "check                       every upload has its expected outcome: {} duplicates "
        "flagged with the right duplicate_of, {} bad images failed with their reason, usage "
        "matches ({:.1f} s)\n",
        duplicates, rejected, elapsed);
  } else if (stop.stopped()) {
    fmt::print("stopped before everything was processed: not checked\n");
  }
  for (const std::string& p : problems) fmt::print(stderr, "problem: {}\n", p);
  return problems.empty() && complete ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace weir::examples

int main(int argc, char** argv) {
  using namespace weir::examples;
  Common common;
  CLI::App app{
      "weir-deeplens: the DeepLens image pipeline on weir — upload API, validation, feature "
      "extraction, vector index with duplicate detection, tenant usage"};
  AddCommonOptions(app, kProgram, &common);
  app.add_option("--state-dir", common.state_dir,
                 "Blobs, vector index and spool; default .weir/deeplens beside weir.yaml");
  app.add_option("--max-image-bytes", common.max_image_bytes,
                 "Largest image accepted (the upload API's request limit)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  app.add_option("--duplicate-distance", common.duplicate_distance,
                 "Perceptual-hash bits (of 64) within which an image is a duplicate")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));

  std::vector<std::string> roles;
  std::string listen = "127.0.0.1:8480";
  int duration_s = 0;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the upload API and the pipeline's workers until Ctrl-C (or --duration)");
  serve
      ->add_option("--role", roles,
                   "Only these (repeatable): api, validation, features, index, observer; "
                   "default all")
      ->check(CLI::IsMember({"api", "validation", "features", "index", "observer"}));
  serve
      ->add_option("--listen", listen, "The upload API's host:port (loopback unless set otherwise)")
      ->capture_default_str();
  serve->add_option("--duration", duration_s, "Stop after this many seconds (0 = Ctrl-C only)");

  std::string url = "http://127.0.0.1:8480", tenant;
  std::vector<std::string> files;
  CLI::App* upload = app.add_subcommand("upload", "POST image files to a running upload API");
  upload->add_option("--url", url, "The upload API")->capture_default_str();
  upload->add_option("--tenant", tenant, "The tenant the images belong to")->required();
  upload->add_option("files", files, "Image files")->required();

  std::string samples_dir;
  uint64_t samples_seed = 42;
  CLI::App* samples =
      app.add_subcommand("samples", "Write the generated sample images (good, duplicate, bad)");
  samples->add_option("dir", samples_dir, "Folder to write them to")->required();
  samples->add_option("--seed", samples_seed, "Seed of the pictures")->capture_default_str();

  std::string db, similar_to;
  CLI::App* index = app.add_subcommand("index", "List the vector index (SQLite)");
  index->add_option("--db", db, "The index; default <state dir>/index.sqlite");
  index->add_option("--tenant", tenant, "Only this tenant's images");
  index->add_option("--similar-to", similar_to,
                    "Instead: the 5 images nearest to this image_id by colour histogram");

  RunArgs run_args;
  CLI::App* run = app.add_subcommand(
      "run",
      "Everything in one process: workers, upload API, sample uploads, checked summary (the one "
      "command)");
  run->add_option("--seed", run_args.seed, "Seed of the sample pictures")->capture_default_str();
  run->add_option("--timeout", run_args.timeout_s,
                  "Give up waiting for the outcomes after this many seconds")
      ->capture_default_str();
  run->add_option("--listen", run_args.listen, "The upload API's host:port")->capture_default_str();

  return RunProgram(app, kProgram, common, argc, argv, [&] {
    try {
      if (serve->parsed()) return ServeCommand(common, roles, listen, duration_s);
      if (upload->parsed()) return UploadCommand(url, tenant, files);
      if (samples->parsed()) return SamplesCommand(common, samples_dir, samples_seed);
      if (index->parsed()) return IndexCommand(common, db, tenant, similar_to);
      return RunCommand(common, run_args);
    } catch (const std::exception& e) {
      fmt::print(stderr, "{}: {}\n", kProgram.name, e.what());
      return kExitFailed;
    }
  });
}
