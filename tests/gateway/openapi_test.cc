// gateway/openapi.json against the routes a real agent serves on its api listener: every
// route is a documented operation with the same access (public, or exactly its roles), and
// nothing is documented that is not served. The shapes of the answers are checked against
// real responses by web/test/openapi.test.mjs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/center_config.h"
#include "gateway/agent.h"
#include "gateway/openapi_service.h"
#include "gateway/router.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;

constexpr std::string_view kMethods[] = {"get",   "put",  "post",   "delete",
                                         "patch", "head", "options"};
const std::set<std::string> kEveryRole = {"broker", "finance", "operator", "viewer"};

// "GET /v1/jobs/{id}" -> "public" or the roles that may call it, sorted: "broker,operator".
using Operations = std::map<std::string, std::string>;

// The router ignores a trailing slash ("/ui/" is served by the route "/ui"); the
// description may name both forms of such a path.
std::string WithoutTrailingSlash(std::string path) {
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string Joined(const std::set<std::string>& roles) {
  std::string out;
  for (const std::string& r : roles) out += (out.empty() ? "" : ",") + r;
  return out;
}

json::object Document() {
  json::value doc = json::parse(OpenApiDocument());
  EXPECT_TRUE(doc.is_object());
  return doc.as_object();
}

Operations Served(const std::vector<RouteInfo>& routes) {
  Operations out;
  for (const RouteInfo& r : routes) {
    std::set<std::string> roles;
    for (config::Role role : r.access.roles) roles.insert(std::string(config::RoleName(role)));
    const std::string key = r.method + " " + r.pattern;
    EXPECT_FALSE(out.contains(key)) << key << " is registered twice";
    out[key] = r.access.is_public ? "public" : Joined(roles);
  }
  return out;
}

// Also checks that each operation is consistent in itself: public operations take no token
// and answer neither 401 nor 403; the others answer 401, and 403 unless every role may.
Operations Documented(const json::object& doc) {
  Operations out;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (std::string_view method : kMethods) {
      const json::value* op = item.as_object().if_contains(method);
      if (op == nullptr) continue;
      std::string name(method);
      for (char& ch : name) ch = static_cast<char>(ch - 'a' + 'A');  // kMethods are lower-case
      const std::string where = name + " " + std::string(path);
      const json::object& o = op->as_object();
      const json::object& responses = o.at("responses").as_object();
      const json::value* security = o.if_contains("security");
      std::string access;
      if (security != nullptr && security->as_array().empty()) {
        access = "public";
        EXPECT_FALSE(o.contains("x-edwc-roles")) << where << ": public, yet it names roles";
        EXPECT_FALSE(responses.contains("401")) << where << ": public, yet it answers 401";
        EXPECT_FALSE(responses.contains("403")) << where << ": public, yet it answers 403";
      } else {
        EXPECT_EQ(security, nullptr) << where << ": only public operations override security";
        std::set<std::string> roles;
        if (const json::value* r = o.if_contains("x-edwc-roles")) {
          for (const json::value& role : r->as_array()) roles.insert(std::string(role.as_string()));
        }
        EXPECT_FALSE(roles.empty()) << where << ": neither public nor x-edwc-roles";
        access = Joined(roles);
        EXPECT_TRUE(responses.contains("401")) << where << ": needs a token but lacks 401";
        EXPECT_EQ(responses.contains("403"), roles != kEveryRole)
            << where << ": 403 must be documented exactly when some role may not call it";
      }
      const std::string key = name + " " + WithoutTrailingSlash(std::string(path));
      auto [it, added] = out.emplace(key, access);
      EXPECT_TRUE(added || it->second == access) << where << ": access differs from " << key;
    }
  }
  return out;
}

TEST(OpenApiTest, DocumentIsOpenApi31WithUniqueOperationIds) {
  const json::object doc = Document();
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  std::set<std::string> ids;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (std::string_view method : kMethods) {
      const json::value* op = item.as_object().if_contains(method);
      if (op == nullptr) continue;
      const std::string id(op->as_object().at("operationId").as_string());
      EXPECT_TRUE(ids.insert(id).second) << "operationId " << id << " is used twice";
    }
    EXPECT_FALSE(std::string_view(path).starts_with("/peer/")) << path << " is a peer route";
  }
}

TEST(OpenApiTest, ApiRoutesAreExactlyTheDocumentedOperations) {
  testing::TempDir dir;
  auto pki = testing::MakeTestPki(dir.path(), "testcenter");
  auto agent = Agent::Start(testing::TestCenterConfig(dir.path(), pki, "testcenter"), false);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  const Operations served = Served((*agent)->api_routes());
  (*agent)->RequestStop();
  EXPECT_EQ((*agent)->Wait(), 0);

  const Operations documented = Documented(Document());
  for (const auto& [op, access] : served) {
    auto it = documented.find(op);
    if (it == documented.end()) {
      ADD_FAILURE() << op << " is served on the api listener but not in gateway/openapi.json";
    } else {
      EXPECT_EQ(it->second, access) << op << ": documented access differs from the route's";
    }
  }
  for (const auto& [op, access] : documented) {
    EXPECT_TRUE(served.contains(op)) << op << " is in gateway/openapi.json but not served";
  }
  EXPECT_GE(served.size(), 30u) << "the agent registered fewer routes than expected";
}

}  // namespace
}  // namespace edwc::gateway
