#include "dashboard/web/dashboard_server.h"

#include <httplib.h>
#include <zlib.h>

#include <chrono>
#include <map>
#include <regex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "dashboard/web/assets.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace galvatron::dashboard {

const EmbeddedAsset* FindAsset(const std::string& name) {
  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    if (name == asset.name) return &asset;
  }
  return nullptr;
}

namespace {

constexpr char kSessionCookie[] = "galvatron_session";

// The page addresses the browser app knows (dashboard/web/assets/app.js);
// anything else is its "not found" page, with status 404.
const std::regex& PagePattern() {
  static const std::regex pattern(
      "^/(|login|nodes|models|plans|jobs|tasks|whatif|(clusters|models|plans|jobs|tasks)/[^/]+)$");
  return pattern;
}

std::string CookieValue(const httplib::Request& request, const std::string& name) {
  const std::string header = request.get_header_value("Cookie");
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

std::string BearerToken(const httplib::Request& request) {
  const std::string header = request.get_header_value("Authorization");
  absl::string_view value = header;
  if (absl::ConsumePrefix(&value, "Bearer ")) return std::string(value);
  return "";
}

void Send(const ApiReply& reply, httplib::Response* response) {
  response->status = reply.status;
  response->set_header("Cache-Control", "no-store");
  if (!reply.download_name.empty()) {
    response->set_header("Content-Disposition",
                         absl::StrCat("attachment; filename=\"", reply.download_name, "\""));
  }
  response->set_content(reply.body, reply.content_type.c_str());
}

// What an asset is served as, computed once: its ETag (a hash of its
// bytes) and its gzip form (empty when that is not smaller).
struct AssetForms {
  std::string etag;
  std::string gzip;
};

std::string Gzip(const unsigned char* data, size_t size) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return "";
  }
  std::string out(deflateBound(&z, size), '\0');
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<unsigned char*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return result == Z_STREAM_END ? out : "";
}

const AssetForms& FormsOf(const EmbeddedAsset& asset) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* forms = new std::map<const EmbeddedAsset*, AssetForms>();
  absl::MutexLock lock(&mu);
  auto [it, added] = forms->try_emplace(&asset);
  if (added) {
    it->second.etag = absl::StrCat(
        "\"", Fnv1a64Hex(absl::string_view(reinterpret_cast<const char*>(asset.data), asset.size)),
        "\"");
    std::string gzip = Gzip(asset.data, asset.size);
    if (gzip.size() < asset.size) it->second.gzip = std::move(gzip);
  }
  return it->second;  // map nodes stay where they are
}

// The browser keeps what it fetched and asks again with the ETag each time
// (no-cache): an unchanged asset costs a 304. Assets go out gzip-compressed
// once at first use, through a content provider of known length, which the
// HTTP library sends as it is: its own compression of each response
// (brotli at the highest level) took 0.45 s for Chart.js, every time.
void SendAsset(const httplib::Request& request, const EmbeddedAsset& asset, int status,
               httplib::Response* response) {
  response->status = status;
  response->set_header("Cache-Control", "no-cache");
  response->set_header("Vary", "Accept-Encoding");
  const AssetForms& forms = FormsOf(asset);
  response->set_header("ETag", forms.etag);
  if (status == 200 && request.get_header_value("If-None-Match") == forms.etag) {
    response->status = 304;
    return;
  }
  const bool gzip =
      !forms.gzip.empty() && absl::StrContains(request.get_header_value("Accept-Encoding"), "gzip");
  const char* data = gzip ? forms.gzip.data() : reinterpret_cast<const char*>(asset.data);
  const size_t size = gzip ? forms.gzip.size() : asset.size;
  if (gzip) response->set_header("Content-Encoding", "gzip");
  response->set_content_provider(size, asset.content_type,
                                 [data](size_t offset, size_t length, httplib::DataSink& sink) {
                                   return sink.write(data + offset, length);
                                 });
}

// `text` with every byte but [A-Za-z0-9/._~-] as %XX, for a query value.
std::string PercentEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '/' || c == '.' || c == '_' || c == '~' || c == '-') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

Query QueryOf(const httplib::Request& request) {
  Query query;
  for (const auto& [key, value] : request.params) query[key] = value;
  return query;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(
    const DashboardConfig& config, std::unique_ptr<PlannerViews> views) {
  if (config.https_cert.empty() != config.https_key.empty()) {
    return absl::InvalidArgumentError(
        "--https-cert and --https-key: one given without the other, expected both or neither");
  }
  const bool https = !config.https_cert.empty();
  if (!IsLoopbackAddress(config.listen) && (!https || config.auth_tokens.empty())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen ", config.listen,
        ": beyond loopback the dashboard serves only over HTTPS (--https-cert, --https-key) "
        "and to browsers that log in with a token (--auth-tokens FILE), since it holds a "
        "token of its own that can request plans; missing: ",
        !https ? "--https-cert/--https-key" : "", !https && config.auth_tokens.empty() ? ", " : "",
        config.auth_tokens.empty() ? "--auth-tokens" : ""));
  }
  const size_t colon = config.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(config.listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen: \"", config.listen, "\", expected HOST:PORT with a port in [0, 65535]"));
  }
  const std::string host = HostOf(config.listen);

  std::unique_ptr<DashboardServer> server(new DashboardServer());
  server->https_ = https;
  server->views_ = std::move(views);
  ASSIGN_OR_RETURN(server->auth_, BrowserAuth::Create(config.auth_tokens));
  if (https) {
    auto ssl =
        std::make_unique<httplib::SSLServer>(config.https_cert.c_str(), config.https_key.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--https-cert ", config.https_cert, " / --https-key ", config.https_key,
                       ": not a readable PEM certificate and its private key"));
    }
    server->server_ = std::move(ssl);
  } else {
    server->server_ = std::make_unique<httplib::Server>();
  }
  server->Routes();
  const int bound = port == 0 ? server->server_->bind_to_any_port(host)
                              : (server->server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--listen ", config.listen, ": cannot bind (in use, or not this host's)"));
  }
  server->address_ =
      absl::StrCat(host.find(':') != std::string::npos ? "[" + host + "]" : host, ":", bound);
  httplib::Server* raw = server->server_.get();
  server->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // Serving before Start returns, so that a Stop right after it is not
  // missed (httplib's stop does nothing to a server not yet listening).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!raw->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("dashboard: serving {}", server->url());
  return server;
}

DashboardServer::~DashboardServer() {
  Stop();
  Wait();
}

std::string DashboardServer::url() const {
  return absl::StrCat(https_ ? "https://" : "http://", address_);
}

void DashboardServer::Stop() {
  if (server_) server_->stop();
}

void DashboardServer::Wait() {
  if (thread_.joinable()) thread_.join();
}

void DashboardServer::Routes() {
  httplib::Server& s = *server_;
  const bool https = https_;
  s.set_payload_max_length(1 << 20);
  s.set_default_headers({
      {"Content-Security-Policy",
       "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  });
  if (https) {
    s.set_post_routing_handler([](const httplib::Request&, httplib::Response& response) {
      response.set_header("Strict-Transport-Security", "max-age=31536000");
    });
  }
  s.set_logger([](const httplib::Request& request, const httplib::Response& response) {
    spdlog::debug("dashboard: {} {} {} ({})", request.method, request.path, response.status,
                  request.remote_addr);
  });

  // Who is asking: a bearer token, or the session cookie.
  auto viewer_of = [this](const httplib::Request& request) -> std::optional<Viewer> {
    const std::string token = BearerToken(request);
    if (!token.empty()) return auth_->FromToken(token);
    return auth_->FromSession(CookieValue(request, kSessionCookie));
  };

  // Everything but the login page, the assets and the health check needs a
  // viewer: the API answers 401, pages send the browser to the login page.
  s.set_pre_routing_handler(
      [viewer_of](const httplib::Request& request, httplib::Response& response) {
        const std::string& path = request.path;
        if (path == "/login" || path == "/healthz" || absl::StartsWith(path, "/assets/")) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        if (viewer_of(request).has_value()) return httplib::Server::HandlerResponse::Unhandled;
        if (absl::StartsWith(path, "/api/") || request.method != "GET") {
          Send(ErrorReply(401, "UNAUTHENTICATED",
                          "log in first: POST /login with a token of the dashboard's token file, "
                          "or send Authorization: Bearer TOKEN"),
               &response);
        } else {
          response.status = 303;
          response.set_header("Location", "/login?next=" + PercentEncode(path));
        }
        return httplib::Server::HandlerResponse::Handled;
      });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  s.Get(R"(/assets/([A-Za-z0-9._-]+))",
        [](const httplib::Request& request, httplib::Response& response) {
          const EmbeddedAsset* asset = FindAsset(request.matches[1]);
          if (asset == nullptr) {
            Send(ErrorReply(404, "NOT_FOUND", "no such asset"), &response);
            return;
          }
          SendAsset(request, *asset, 200, &response);
        });

  // Log in: {"token": "..."} (or a form field `token`) → a session cookie.
  s.Post("/login", [this, https](const httplib::Request& request, httplib::Response& response) {
    if (!auth_->enabled()) {
      Send(ErrorReply(400, "FAILED_PRECONDITION",
                      "this dashboard asks nobody to log in (it has no --auth-tokens)"),
           &response);
      return;
    }
    std::string token;
    if (absl::StartsWith(request.get_header_value("Content-Type"), "application/json")) {
      nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
      if (body.is_object() && body.contains("token") && body["token"].is_string()) {
        token = body["token"].get<std::string>();
      }
    } else {
      token = request.get_param_value("token");
    }
    absl::StatusOr<std::string> session = auth_->Login(token);
    if (!session.ok()) {
      spdlog::warn("dashboard: failed login from {}", request.remote_addr);
      Send(ErrorReply(401, "UNAUTHENTICATED", std::string(session.status().message())), &response);
      return;
    }
    std::optional<Viewer> viewer = auth_->FromSession(*session);
    response.set_header(
        "Set-Cookie",
        absl::StrCat(kSessionCookie, "=", *session, "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                     auth_->session_lifetime().count(), https ? "; Secure" : ""));
    ApiReply reply;
    reply.body = nlohmann::json{{"name", viewer ? viewer->name : ""},
                                {"role", viewer ? std::string(RoleName(viewer->role)) : ""}}
                     .dump();
    Send(reply, &response);
  });
  s.Post("/logout", [this](const httplib::Request& request, httplib::Response& response) {
    auth_->Logout(CookieValue(request, kSessionCookie));
    response.set_header("Set-Cookie", absl::StrCat(kSessionCookie,
                                                   "=; Path=/; HttpOnly; SameSite=Strict; "
                                                   "Max-Age=0"));
    ApiReply reply;
    reply.body = "{}";
    Send(reply, &response);
  });

  s.Get("/api/session",
        [this, viewer_of](const httplib::Request& request, httplib::Response& response) {
          const Viewer viewer = viewer_of(request).value_or(Viewer{});
          ApiReply reply;
          reply.body = nlohmann::json{{"auth", auth_->enabled()},
                                      {"name", viewer.name},
                                      {"role", std::string(RoleName(viewer.role))},
                                      {"cluster", viewer.cluster},
                                      {"canPlan", viewer.can_plan()}}
                           .dump();
          Send(reply, &response);
        });

  PlannerViews* views = views_.get();
  auto get = [&s](const std::string& pattern,
                  std::function<ApiReply(const httplib::Request&)> handler) {
    s.Get(pattern, [handler](const httplib::Request& request, httplib::Response& response) {
      Send(handler(request), &response);
    });
  };
  get("/api/overview", [views](const httplib::Request&) { return views->Overview(); });
  get("/api/nodes", [views](const httplib::Request& r) { return views->Nodes(QueryOf(r)); });
  get(R"(/api/clusters/([^/]+)/hardware)", [views](const httplib::Request& r) {
    return views->ClusterHardware(r.matches[1], QueryOf(r));
  });
  get(R"(/api/clusters/([^/]+))",
      [views](const httplib::Request& r) { return views->Cluster(r.matches[1]); });
  get("/api/models", [views](const httplib::Request& r) { return views->Models(QueryOf(r)); });
  get(R"(/api/models/([^/]+))",
      [views](const httplib::Request& r) { return views->Model(r.matches[1]); });
  get("/api/plans", [views](const httplib::Request& r) { return views->Plans(QueryOf(r)); });
  get(R"(/api/plans/([^/]+)/plan\.json)",
      [views](const httplib::Request& r) { return views->PlanDownload(r.matches[1], false); });
  get(R"(/api/plans/([^/]+)/galvatron\.json)",
      [views](const httplib::Request& r) { return views->PlanDownload(r.matches[1], true); });
  get(R"(/api/plans/([^/]+))",
      [views](const httplib::Request& r) { return views->Plan(r.matches[1]); });
  get("/api/jobs", [views](const httplib::Request& r) { return views->Jobs(QueryOf(r)); });
  get(R"(/api/jobs/([^/]+)/metrics)",
      [views](const httplib::Request& r) { return views->JobMetrics(r.matches[1], QueryOf(r)); });
  get(R"(/api/jobs/([^/]+)/logs)",
      [views](const httplib::Request& r) { return views->JobLogs(r.matches[1], QueryOf(r)); });
  get(R"(/api/jobs/([^/]+))",
      [views](const httplib::Request& r) { return views->Job(r.matches[1], QueryOf(r)); });
  get("/api/tasks", [views](const httplib::Request& r) { return views->Tasks(QueryOf(r)); });
  get(R"(/api/tasks/([^/]+))",
      [views](const httplib::Request& r) { return views->Task(r.matches[1]); });
  get(R"(/api/.*)", [](const httplib::Request& r) {
    return ErrorReply(404, "NOT_FOUND", absl::StrCat("no API at ", r.path));
  });

  // The one POST that changes anything (it may start a search). JSON only:
  // a cross-site form cannot send that without the browser asking first.
  s.Post("/api/whatif", [views, viewer_of](const httplib::Request& request,
                                           httplib::Response& response) {
    if (!absl::StartsWith(request.get_header_value("Content-Type"), "application/json")) {
      Send(ErrorReply(415, "INVALID_ARGUMENT", "expected Content-Type: application/json"),
           &response);
      return;
    }
    const Viewer viewer = viewer_of(request).value_or(Viewer{});
    spdlog::info("dashboard: what-if plan asked by {} from {}",
                 viewer.name.empty() ? std::string("(no auth)") : viewer.name, request.remote_addr);
    Send(views->WhatIf(request.body, viewer), &response);
  });

  // Every page is the app's one HTML shell; the app draws the page from
  // the address.
  s.Get(R"(/.*)", [](const httplib::Request& request, httplib::Response& response) {
    const EmbeddedAsset* shell = FindAsset("index.html");
    if (shell == nullptr) {
      response.status = 500;
      response.set_content("the dashboard was built without its pages\n", "text/plain");
      return;
    }
    SendAsset(request, *shell, std::regex_match(request.path, PagePattern()) ? 200 : 404,
              &response);
  });
}

}  // namespace galvatron::dashboard
