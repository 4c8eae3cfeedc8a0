// The dashboard's server without a browser: its JSON API against a real
// planner process, who may look (sessions, bearer tokens, roles), what it
// refuses to serve, HTTPS, and the server-side down-sampling of a job's
// steps. The pages themselves are tested in Chromium (browser_test.cc).
#include <httplib.h>

#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/rpc_channel.h"
#include "dashboard/web/browser_auth.h"
#include "dashboard/web/dashboard_server.h"
#include "dashboard/web/metrics_series.h"
#include "dashboard/web/planner_views.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "nlohmann/json.hpp"
#include "tests/support/nodes.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron::dashboard {
namespace {

using nlohmann::json;

constexpr char kViewerToken[] = "viewer-token-0123456789";
constexpr char kUserToken[] = "user-token-0123456789abc";

std::string WriteFile(const testing::TempDir& dir, const std::string& name,
                      const std::string& text) {
  std::ofstream(dir.File(name)) << text;
  return dir.File(name);
}

std::string TokenFile(const testing::TempDir& dir) {
  return WriteFile(dir, "browsers.tokens",
                   std::string("# who may look\nviewer alice ") + kViewerToken + "\nuser bob " +
                       kUserToken + " test\n");
}

// A dashboard in this process, asking the planner at `planner`.
std::unique_ptr<DashboardServer> StartDashboard(const std::string& planner,
                                                DashboardConfig config = {}) {
  config.listen = "127.0.0.1:0";
  ClientCredentials plaintext;
  plaintext.channel = grpc::InsecureChannelCredentials();
  auto views = std::make_unique<PlannerViews>(
      CreatePlannerChannel(planner, plaintext, grpc::ChannelArguments()), PlannerViewsOptions{});
  absl::StatusOr<std::unique_ptr<DashboardServer>> server =
      DashboardServer::Start(config, std::move(views));
  INFO(server.status().ToString());
  REQUIRE(server.ok());
  return std::move(*server);
}

std::unique_ptr<httplib::Client> ClientOf(const DashboardServer& server) {
  auto client = std::make_unique<httplib::Client>(server.url());
  client->set_read_timeout(60, 0);
  return client;
}

json Body(const httplib::Result& result) {
  REQUIRE(result);
  INFO(result->body);
  json body = json::parse(result->body, nullptr, false);
  REQUIRE_FALSE(body.is_discarded());
  return body;
}

}  // namespace

TEST_CASE("Steps are down-sampled into buckets of equal size with their loss range",
          "[dashboard]") {
  std::vector<StepPoint> steps;
  for (int i = 1; i <= 10; ++i) {
    StepPoint p;
    p.step = i;
    p.loss = i == 6 ? 100.0 : 10.0 - i;  // a spike at step 6
    p.step_seconds = 0.5;
    p.samples_per_second = i;
    p.stage_seconds = {0.25, 0.5};
    steps.push_back(p);
  }
  int64_t bucket = 0;
  const json points = DownsampleSteps(steps, 3, &bucket);
  CHECK(bucket == 4);
  REQUIRE(points.size() == 3);  // steps 1-4, 5-8, 9-10
  CHECK(points[0]["step"] == 4);
  CHECK(points[0]["loss"].get<double>() == Approx((9 + 8 + 7 + 6) / 4.0));
  CHECK(points[1]["step"] == 8);
  CHECK(points[1]["lossMax"].get<double>() == 100.0);  // the spike stays visible
  CHECK(points[1]["lossMin"].get<double>() == 2.0);
  CHECK(points[2]["step"] == 10);
  CHECK(points[2]["samplesPerSecond"].get<double>() == Approx(9.5));
  CHECK(points[2]["stageSeconds"][1].get<double>() == Approx(0.5));

  // As many points as steps: each point is its step.
  const json all = DownsampleSteps(steps, 500, &bucket);
  CHECK(bucket == 1);
  REQUIRE(all.size() == 10);
  CHECK(all[5]["loss"].get<double>() == 100.0);
  CHECK(DownsampleSteps({}, 10).empty());
}

TEST_CASE("Browser sessions come from the token file and end with their token", "[dashboard]") {
  testing::TempDir dir;
  const std::string file = TokenFile(dir);
  auto auth = BrowserAuth::Create(file);
  REQUIRE(auth.ok());
  CHECK((*auth)->enabled());
  CHECK((*auth)->Login("not-a-known-token-at-all").status().code() ==
        absl::StatusCode::kUnauthenticated);
  absl::StatusOr<std::string> session = (*auth)->Login(kViewerToken);
  REQUIRE(session.ok());
  CHECK(session->size() == 64);
  std::optional<Viewer> alice = (*auth)->FromSession(*session);
  REQUIRE(alice.has_value());
  CHECK(alice->name == "alice");
  CHECK_FALSE(alice->can_plan());
  std::optional<Viewer> bob = (*auth)->FromToken(kUserToken);
  REQUIRE(bob.has_value());
  CHECK(bob->can_plan());
  CHECK(bob->cluster == "test");
  CHECK_FALSE((*auth)->FromSession("0000").has_value());

  // Alice's token leaves the file: her session ends at the next request.
  WriteFile(dir, "browsers.tokens", std::string("user bob ") + kUserToken + "\n");
  REQUIRE((*auth)->Reload().ok());
  CHECK_FALSE((*auth)->FromSession(*session).has_value());
  CHECK((*auth)->FromToken(kUserToken).has_value());
  // A broken file keeps the tokens in force.
  WriteFile(dir, "browsers.tokens", "superuser carol short\n");
  CHECK_FALSE((*auth)->Reload().ok());
  CHECK((*auth)->FromToken(kUserToken).has_value());

  // Without a token file everyone may look and plan (loopback only).
  auto open = BrowserAuth::Create("");
  REQUIRE(open.ok());
  CHECK_FALSE((*open)->enabled());
  CHECK((*open)->FromSession("").value().can_plan());
}

TEST_CASE("The dashboard serves beyond loopback only over HTTPS to logged-in browsers",
          "[dashboard]") {
  CHECK(IsLoopbackAddress("127.0.0.1:8080"));
  CHECK(IsLoopbackAddress("[::1]:8080"));
  CHECK(IsLoopbackAddress("localhost:0"));
  CHECK_FALSE(IsLoopbackAddress("0.0.0.0:8080"));
  CHECK_FALSE(IsLoopbackAddress("10.1.2.3:8080"));

  testing::TempDir dir;
  auto views = [] {
    return std::make_unique<PlannerViews>(
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
        PlannerViewsOptions{});
  };
  DashboardConfig config;
  config.listen = "0.0.0.0:0";
  auto refused = DashboardServer::Start(config, views());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.status().message()),
             Catch::Contains("--https-cert/--https-key") && Catch::Contains("--auth-tokens"));
  config.auth_tokens = TokenFile(dir);
  refused = DashboardServer::Start(config, views());
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(std::string(refused.status().message()),
             Catch::EndsWith("missing: --https-cert/--https-key"));
  config.https_cert = dir.File("missing.crt");
  refused = DashboardServer::Start(config, views());
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(std::string(refused.status().message()), Catch::Contains("one given without"));
  config.listen = "127.0.0.1:99999";
  config.https_cert.clear();
  refused = DashboardServer::Start(config, views());
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(std::string(refused.status().message()), Catch::Contains("port in [0, 65535]"));
}

TEST_CASE("The JSON API pages through nodes and answers errors with the planner's code",
          "[dashboard]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  auto channel = grpc::CreateChannel(planner.address(), grpc::InsecureChannelCredentials());
  auto nodes = v1::NodeService::NewStub(channel);
  for (const char* name : {"n1", "n2", "n3"}) {
    v1::RegisterNodeRequest request;
    *request.mutable_node() = testing::MakeNode(name, "test", 2);
    v1::RegisterNodeResponse response;
    grpc::ClientContext context;
    REQUIRE(nodes->RegisterNode(&context, request, &response).ok());
  }
  auto dashboard = StartDashboard(planner.address());
  auto client = ClientOf(*dashboard);

  const json overview = Body(client->Get("/api/overview"));
  CHECK(overview["nodesAlive"] == 3);
  REQUIRE(overview["clusters"].size() == 1);
  CHECK(overview["clusters"][0]["name"] == "test");
  CHECK(overview["clusters"][0]["devices"] == 6);
  CHECK(overview["clusters"][0]["hardwareProfile"].is_null());

  const json first = Body(client->Get("/api/nodes?pageSize=2"));
  REQUIRE(first["nodes"].size() == 2);
  REQUIRE(first.contains("nextPageToken"));
  const json second = Body(client->Get(
      ("/api/nodes?pageSize=2&pageToken=" + first["nextPageToken"].get<std::string>()).c_str()));
  REQUIRE(second["nodes"].size() == 1);
  CHECK_FALSE(second.contains("nextPageToken"));

  httplib::Result bad = client->Get("/api/nodes?pageSize=0");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK_THAT(bad->body, Catch::Contains("pageSize") && Catch::Contains("[1, 1000]"));
  httplib::Result missing = client->Get("/api/plans/plan-nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(Body(missing)["error"]["code"] == "NOT_FOUND");
  httplib::Result state = client->Get("/api/jobs?state=sleeping");
  REQUIRE(state);
  CHECK(state->status == 400);
  CHECK_THAT(state->body, Catch::Contains("sleeping") && Catch::Contains("running"));
  CHECK(client->Get("/api/tasks/task-9")->status == 404);
  httplib::Result plan_flag = client->Get("/api/jobs/job-1?plan=maybe");
  REQUIRE(plan_flag);
  CHECK(plan_flag->status == 400);
  CHECK_THAT(plan_flag->body, Catch::Contains("plan") && Catch::Contains("true or false"));
  CHECK(client->Get("/api/no-such-thing")->status == 404);
  CHECK(client->Get("/api/clusters/nowhere")->status == 404);

  // Pages: the app's shell for every address it knows, 404 for the rest;
  // every asset from the binary, with a policy that allows nothing else.
  httplib::Result page = client->Get("/jobs/job-7");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK_THAT(page->get_header_value("Content-Type"), Catch::StartsWith("text/html"));
  CHECK_THAT(page->get_header_value("Content-Security-Policy"),
             Catch::Contains("default-src 'self'"));
  CHECK(client->Get("/no/such/page")->status == 404);
  httplib::Result chart =
      client->Get("/assets/chart.min.js", httplib::Headers{{"Accept-Encoding", "gzip, br"}});
  REQUIRE(chart);
  CHECK(chart->status == 200);
  CHECK(chart->get_header_value("Content-Encoding") == "gzip");  // compressed once, at start
  CHECK_THAT(chart->body, Catch::Contains("Chart.js v3"));
  const std::string etag = chart->get_header_value("ETag");
  REQUIRE_FALSE(etag.empty());
  httplib::Result again =
      client->Get("/assets/chart.min.js", httplib::Headers{{"If-None-Match", etag}});
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  CHECK(client->Get("/assets/../planner.db")->status == 404);
}

TEST_CASE("A what-if plan is asked through the dashboard and downloads in both formats",
          "[dashboard]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  auto channel = grpc::CreateChannel(planner.address(), grpc::InsecureChannelCredentials());
  {
    auto hardware = v1::HardwareProfileService::NewStub(channel);
    v1::PutHardwareProfileRequest put;
    *put.mutable_profile() = testing::SyntheticCluster("test", 1, 4);
    v1::HardwareProfile stored;
    grpc::ClientContext context;
    REQUIRE(hardware->PutHardwareProfile(&context, put, &stored).ok());
  }
  auto dashboard = StartDashboard(planner.address());
  auto client = ClientOf(*dashboard);

  httplib::Result form =
      client->Post("/api/whatif", "model=gpt-tiny", "application/x-www-form-urlencoded");
  REQUIRE(form);
  CHECK(form->status == 415);
  httplib::Result no_memory = client->Post(
      "/api/whatif", R"({"model": "gpt-tiny", "cluster": "test"})", "application/json");
  REQUIRE(no_memory);
  CHECK(no_memory->status == 400);
  CHECK_THAT(no_memory->body, Catch::Contains("memory"));

  httplib::Result asked =
      client->Post("/api/whatif",
                   R"({"model": "gpt-tiny", "cluster": "test", "memory": "8GiB", "globalBatch": "8",
          "estimateMissing": true})",
                   "application/json");
  const json plan = Body(asked);
  REQUIRE(asked->status == 200);
  const std::string id = plan["id"].get<std::string>();
  CHECK_THAT(id, Catch::StartsWith("plan-"));
  CHECK(plan["worldSize"] == 4);

  const json stored = Body(client->Get(("/api/plans/" + id).c_str()));
  CHECK(stored["id"] == id);
  CHECK(stored["layers"].size() == plan["layers"].size());
  const json listed = Body(client->Get("/api/plans"));
  REQUIRE(listed["plans"].size() == 1);
  CHECK_FALSE(listed["plans"][0].contains("layers"));  // a list carries summaries

  httplib::Result ours = client->Get(("/api/plans/" + id + "/plan.json").c_str());
  REQUIRE(ours);
  CHECK(ours->status == 200);
  CHECK_THAT(ours->get_header_value("Content-Disposition"),
             Catch::Contains("attachment") && Catch::Contains(id + ".json"));
  httplib::Result galvatron = client->Get(("/api/plans/" + id + "/galvatron.json").c_str());
  REQUIRE(galvatron);
  INFO(galvatron->body);
  if (galvatron->status == 200) {
    CHECK_THAT(galvatron->get_header_value("Content-Disposition"),
               Catch::Contains("galvatron_config_gpt-tiny"));
    CHECK(json::parse(galvatron->body).contains("pp_deg"));
  } else {
    // A plan Galvatron's format cannot express (e.g. ZeRO-1) says why.
    CHECK(galvatron->status == 422);
    CHECK_THAT(galvatron->body, Catch::Contains("cannot express"));
  }
}

TEST_CASE("With a token file the dashboard asks each browser to log in", "[dashboard]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  DashboardConfig config;
  config.auth_tokens = TokenFile(dir);
  auto dashboard = StartDashboard(planner.address(), config);
  auto client = ClientOf(*dashboard);

  httplib::Result api = client->Get("/api/overview");
  REQUIRE(api);
  CHECK(api->status == 401);
  CHECK(Body(api)["error"]["code"] == "UNAUTHENTICATED");
  httplib::Result page = client->Get("/plans/plan-1");
  REQUIRE(page);
  CHECK(page->status == 303);
  CHECK(page->get_header_value("Location") == "/login?next=/plans/plan-1");
  CHECK(client->Get("/login")->status == 200);          // the login page itself
  CHECK(client->Get("/assets/app.js")->status != 401);  // and what it needs

  httplib::Result wrong =
      client->Post("/login", R"({"token": "not-a-known-token-at-all"})", "application/json");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(wrong->get_header_value("Set-Cookie").empty());

  httplib::Result login =
      client->Post("/login", json{{"token", kViewerToken}}.dump(), "application/json");
  REQUIRE(login);
  CHECK(login->status == 200);
  CHECK(Body(login)["name"] == "alice");
  const std::string cookie = login->get_header_value("Set-Cookie");
  CHECK_THAT(cookie, Catch::StartsWith("galvatron_session=") && Catch::Contains("HttpOnly") &&
                         Catch::Contains("SameSite=Strict") && !Catch::Contains("Secure"));
  const std::string session = cookie.substr(0, cookie.find(';'));
  const httplib::Headers with_session = {{"Cookie", session}};
  httplib::Result seen = client->Get("/api/overview", with_session);
  REQUIRE(seen);
  CHECK(seen->status == 200);
  const json me = Body(client->Get("/api/session", with_session));
  CHECK(me["auth"] == true);
  CHECK(me["name"] == "alice");
  CHECK(me["canPlan"] == false);

  // A viewer may look but not ask for plans; a user may, for its cluster.
  httplib::Result denied =
      client->Post("/api/whatif", with_session, R"({"model": "gpt-tiny"})", "application/json");
  REQUIRE(denied);
  CHECK(denied->status == 403);
  CHECK_THAT(denied->body, Catch::Contains("alice") && Catch::Contains("viewer"));
  const httplib::Headers bob = {{"Authorization", std::string("Bearer ") + kUserToken}};
  httplib::Result other_cluster = client->Post(
      "/api/whatif", bob, R"({"model": "gpt-tiny", "cluster": "prod", "memory": "8GiB"})",
      "application/json");
  REQUIRE(other_cluster);
  CHECK(other_cluster->status == 403);
  CHECK_THAT(other_cluster->body, Catch::Contains("cluster test only"));

  // Logging out ends the session.
  CHECK(client->Post("/logout", with_session, "", "application/json")->status == 200);
  CHECK(client->Get("/api/overview", with_session)->status == 401);
}

TEST_CASE("The dashboard serves HTTPS with the certificate it is given", "[dashboard]") {
  testing::TempDir dir;
  testing::CommandResult certs = testing::RunCommand(
      {testing::SourceDir() + "/scripts/make-certs.sh", "--out", dir.File("certs")},
      std::chrono::seconds(60));
  INFO(certs.err);
  REQUIRE(certs.exit_code == 0);
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  DashboardConfig config;
  config.https_cert = dir.File("certs/planner.crt");
  config.https_key = dir.File("certs/planner.key");
  config.auth_tokens = TokenFile(dir);
  auto dashboard = StartDashboard(planner.address(), config);
  CHECK_THAT(dashboard->url(), Catch::StartsWith("https://127.0.0.1:"));

  httplib::SSLClient client("127.0.0.1", std::stoi(dashboard->address().substr(10)));
  client.set_ca_cert_path(dir.File("certs/ca.crt").c_str());
  client.enable_server_certificate_verification(true);
  httplib::Result health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK_THAT(health->get_header_value("Strict-Transport-Security"), Catch::Contains("max-age"));
  httplib::Result login =
      client.Post("/login", json{{"token", kViewerToken}}.dump(), "application/json");
  REQUIRE(login);
  CHECK_THAT(login->get_header_value("Set-Cookie"), Catch::Contains("; Secure"));

  // Plain HTTP to the HTTPS port gets nothing.
  httplib::Client plain(absl::StrCat("http://", dashboard->address()));
  plain.set_read_timeout(5, 0);
  httplib::Result refused = plain.Get("/healthz");
  CHECK((!refused || refused->status != 200));
}

TEST_CASE("galvatron-dashboard re-reads its token file on SIGHUP and stops on SIGTERM",
          "[dashboard]") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  const std::string tokens = TokenFile(dir);
  testing::ChildProcess dashboard(
      {testing::BinDir() + "/galvatron-dashboard", "--planner", planner.address(), "--listen",
       "127.0.0.1:0", "--ready-file", dir.File("dashboard.ready"), "--auth-tokens", tokens},
      dir.File("dashboard.log"));
  REQUIRE(testing::WaitFor([&] { return !testing::Slurp(dir.File("dashboard.ready")).empty(); },
                           std::chrono::seconds(20)));
  std::string url = testing::Slurp(dir.File("dashboard.ready"));
  url = url.substr(0, url.find('\n'));
  httplib::Client client(url);
  const httplib::Headers alice = {{"Authorization", std::string("Bearer ") + kViewerToken}};
  REQUIRE(client.Get("/api/session", alice)->status == 200);

  // Alice's token leaves the file; SIGHUP (which must not stop the server,
  // whichever of its threads the signal lands on) makes it count.
  WriteFile(dir, "browsers.tokens", std::string("user bob ") + kUserToken + "\n");
  dashboard.Signal(SIGHUP);
  INFO(testing::Slurp(dir.File("dashboard.log")));
  REQUIRE(testing::WaitFor(
      [&] {
        httplib::Result r = client.Get("/api/session", alice);
        return r && r->status == 401;
      },
      std::chrono::seconds(20)));
  CHECK(dashboard.running());
  dashboard.Signal(SIGTERM);
  CHECK(dashboard.Wait(std::chrono::seconds(20)) == 0);
  CHECK_THAT(testing::Slurp(dir.File("dashboard.log")),
             Catch::Contains("SIGHUP: token file re-read") &&
                 Catch::Contains("galvatron-dashboard stopped"));
}

}  // namespace galvatron::dashboard
