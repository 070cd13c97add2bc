// The agent's gRPC service over the real core (AgentCore) and the in-memory platform, in
// simulated time, through an in-process channel: what the ctl gets for each call, without a
// process or a socket. The end-to-end tests run the same calls through the real ctl.
#include "daemon/agent_service.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include "common/agent_wire.h"
#include "daemon/agent_core.h"
#include "daemon/database.h"
#include "proto/convert.h"
#include "tests/support/fake_platform.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;
namespace pb = backend_im::v1;
using std::chrono::seconds;

namespace {

struct ServiceRig {
  ServiceRig() : platform(clock) {
    platform.AddToken("dev-token");
    CoreSettings settings;
    settings.environment_token = "dev-token";
    core = std::make_unique<AgentCore>(*db, platform, clock, random, stop, std::move(settings));
    ServiceInfo info;
    info.version = "test";
    service = std::make_unique<AgentService>(core->agent(), info, [] {});
    grpc::ServerBuilder builder;
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    REQUIRE(server);
    stub = pb::Agent::NewStub(server->InProcessChannel(grpc::ChannelArguments()));
  }
  ~ServiceRig() {
    core->BeginShutdown();
    server->Shutdown(std::chrono::system_clock::now() + seconds(2));
    core->StopWatching();
    service->DrainWorkers(seconds(2));
  }

  test::TempDir dir;
  FakeClock clock;
  StdRandom random;
  StopSignal stop;
  test::FakePlatform platform;
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  std::unique_ptr<AgentCore> core;
  std::unique_ptr<AgentService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<pb::Agent::Stub> stub;

  grpc::Status Deploy(pb::DeployReply* reply, grpc::ClientContext* ctx) {
    pb::DeployRequest req;
    auto* f = req.add_files();
    f->set_path("main.py");
    f->set_content("print('hi')\n");
    req.set_directory(dir.path());
    return stub->Deploy(ctx, req, reply);
  }
  // Deploys, which must succeed; returns the deployment's id.
  std::string DeployedId() {
    grpc::ClientContext ctx;
    pb::DeployReply reply;
    REQUIRE(Deploy(&reply, &ctx).ok());
    return reply.deployment().id();
  }

  grpc::Status StatusOf(const std::string& id, pb::Deployment* out) {
    grpc::ClientContext ctx;
    pb::StatusRequest req;
    req.set_deployment_id(id);
    return stub->Status(&ctx, req, out);
  }
};

std::string ErrorCodeOf(const grpc::ClientContext& ctx) {
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find(wire::kErrorCodeKey);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

TEST_CASE("the service over the core: deploy, watch to the end, status and history") {
  ServiceRig rig;
  const std::string id = rig.DeployedId();
  CHECK_FALSE(id.empty());

  grpc::ClientContext watch_ctx;
  pb::WatchRequest watch;
  watch.set_deployment_id(id);
  auto reader = rig.stub->Watch(&watch_ctx, watch);
  std::vector<contract::Stage> stages;
  pb::DeploymentEvent ev;
  int64_t seq = 0;
  while (reader->Read(&ev)) {
    CHECK(ev.seq() == ++seq);
    auto stage = proto::StageOf(ev);
    REQUIRE(stage);
    CHECK(ev.stage() == proto::ToProto(*stage));  // typed, and the same as the name
    CHECK(ev.status() == contract::StageName(*stage));
    CHECK(ev.source() == "stream");  // every stage came on the platform's stream
    stages.push_back(*stage);
  }
  CHECK(reader->Finish().ok());
  CHECK(stages == contract::SuccessPath());
  CHECK(ev.terminal());
  CHECK(ev.url().rfind("https://", 0) == 0);

  pb::Deployment status;
  REQUIRE(rig.StatusOf(id, &status).ok());
  CHECK(status.stage() == pb::STAGE_COMPLETE);
  CHECK(status.status() == "complete");
  CHECK(status.terminal());
  CHECK(status.logs_size() == 8);
  CHECK(status.stream_problem().empty());

  grpc::ClientContext history_ctx;
  pb::HistoryReply history;
  REQUIRE(rig.stub->History(&history_ctx, pb::HistoryRequest(), &history).ok());
  REQUIRE(history.deployments_size() == 1);
  CHECK(history.deployments(0).id() == id);
  CHECK(history.deployments(0).stage() == pb::STAGE_COMPLETE);
  CHECK(history.deployments(0).status() == "complete");
}

TEST_CASE("every stage goes out typed and by its name, on a deployment as on an event") {
  for (contract::Stage s : contract::SuccessPath()) {
    for (contract::Stage stage : {s, contract::Stage::kFailed}) {
      CAPTURE(contract::StageName(stage));
      pb::Deployment d;
      proto::SetStage(stage, &d);
      CHECK(d.stage() == proto::ToProto(stage));
      CHECK(d.stage() != pb::STAGE_UNSPECIFIED);
      CHECK(d.status() == contract::StageName(stage));
      CHECK(proto::StageOf(d) == stage);
      pb::DeploymentEvent ev;
      proto::ToProto(contract::StageEvent{stage, {}, std::nullopt}, &ev);
      CHECK(ev.stage() == d.stage());
      CHECK(ev.status() == d.status());
    }
  }
}

TEST_CASE("a stored status the agent does not know goes out as the stage it reads as") {
  ServiceRig rig;
  const std::string id = rig.DeployedId();
  grpc::ClientContext watch_ctx;
  pb::WatchRequest watch;
  watch.set_deployment_id(id);
  auto reader = rig.stub->Watch(&watch_ctx, watch);
  pb::DeploymentEvent ev;
  while (reader->Read(&ev)) {
  }
  REQUIRE(reader->Finish().ok());
  REQUIRE(ev.terminal());
  // A later agent's stage in the shared database: ended, so it reads as failed.
  REQUIRE(test::Run({"sqlite3", rig.dir / "agent.db",
                     "UPDATE deployments SET status = 'scaling' WHERE id = '" + id + "';"})
              .exit_code == 0);
  pb::Deployment status;
  REQUIRE(rig.StatusOf(id, &status).ok());
  CHECK(status.stage() == pb::STAGE_FAILED);
  CHECK(status.status() == "failed");
  CHECK(status.terminal());
}

TEST_CASE(
    "status and watch answer from the store, and only an unknown deployment asks the platform") {
  ServiceRig rig;
  // Made on the platform by someone else (another machine): this agent has no record of it.
  contract::DeployRequest made_req;
  made_req.files = {{"main.py", "print('elsewhere')\n"}};
  auto made = rig.platform.Deploy("dev-token", made_req, "made-elsewhere");
  REQUIRE(made.ok());
  const std::string id = made->deployment_id;

  std::vector<std::string> sources;
  auto watch = [&](std::vector<int64_t>* seqs) {
    grpc::ClientContext ctx;
    pb::WatchRequest req;
    req.set_deployment_id(id);
    auto reader = rig.stub->Watch(&ctx, req);
    pb::DeploymentEvent ev;
    bool terminal = false;
    while (reader->Read(&ev)) {
      seqs->push_back(ev.seq());
      sources.push_back(ev.source());
      terminal = ev.terminal();
    }
    CHECK(terminal);
    return reader->Finish();
  };

  int asked = rig.platform.status_calls();
  pb::Deployment first;
  REQUIRE(rig.StatusOf(id, &first).ok());  // looked up on the platform, then recorded
  CHECK(first.id() == id);
  CHECK(rig.platform.status_calls() == asked + 1);
  std::vector<int64_t> live;
  REQUIRE(watch(&live).ok());  // followed to its end
  REQUIRE_FALSE(live.empty());
  // Its first event is the platform's status answer, recorded by the lookup.
  CHECK(sources.front() == "poll");

  // Recorded now: both are answered from the store, without a word to the platform.
  asked = rig.platform.status_calls();
  int opens = rig.platform.stream_opens();
  pb::Deployment again;
  REQUIRE(rig.StatusOf(id, &again).ok());
  CHECK(again.terminal());
  CHECK(again.stage() == pb::STAGE_COMPLETE);
  CHECK(again.logs_size() > 0);
  std::vector<int64_t> replayed;
  REQUIRE(watch(&replayed).ok());
  CHECK(replayed.back() == again.last_seq());
  CHECK(replayed.size() == static_cast<size_t>(again.last_seq()));
  CHECK(rig.platform.status_calls() == asked);
  CHECK(rig.platform.stream_opens() == opens);
}

TEST_CASE("the service keeps an error's kind: not found, unavailable, unauthenticated") {
  ServiceRig rig;
  {
    grpc::ClientContext ctx;
    pb::StatusRequest req;
    req.set_deployment_id("dep-nope");
    pb::Deployment reply;
    auto s = rig.stub->Status(&ctx, req, &reply);
    CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(ErrorCodeOf(ctx) == "not_found");
  }
  {
    grpc::ClientContext ctx;
    pb::WatchRequest req;
    req.set_deployment_id("dep-nope");
    auto reader = rig.stub->Watch(&ctx, req);
    pb::DeploymentEvent ev;
    CHECK_FALSE(reader->Read(&ev));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
  {
    rig.platform.FailNext(1, 503);
    grpc::ClientContext ctx;
    pb::DeployReply reply;
    auto s = rig.Deploy(&reply, &ctx);
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(ErrorCodeOf(ctx) == "unavailable");
  }
  {
    rig.platform.RevokeAccessTokens();  // the environment's token, with nothing to refresh
    grpc::ClientContext ctx;
    pb::DeployReply reply;
    auto s = rig.Deploy(&reply, &ctx);
    CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(ErrorCodeOf(ctx) == "unauthenticated");
  }
}
