// Datasets and transfers across real agents on loopback: a 1 GiB dataset arrives whole;
// a receiver killed halfway resumes without fetching its verified chunks again; a chunk
// corrupted on the sender's disk is caught and never stored; a slow direct link is
// bypassed through a relay; residency refuses before a byte moves; a job runs where its
// input was moved and its result comes home.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;
using testing::Agent;
using testing::AwaitTransfer;
using testing::Cluster;
using testing::DatasetsDir;
using testing::Ended;
using testing::FileSha256;
using testing::Int;
using testing::Metric;
using testing::Put;
using testing::Sha256;
using testing::StartTransfer;
using testing::Str;

TEST(DatasetsTest, AGibibyteArrivesWholeAndVerified) {
  Cluster cluster;
  cluster.Start("east", "");
  cluster.Start("west", cluster[0].peer_url);
  cluster.AwaitAllAlive();
  const int64_t size = int64_t{1} << 30;
  const std::string sha = Put(cluster, cluster[0], "corpus", size);
  ASSERT_FALSE(sha.empty());
  auto [status, started] = StartTransfer(cluster, cluster[1], "corpus", "east", "west");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const std::string id = Str(started.at("transfer"), "id");
  const json::value done = AwaitTransfer(cluster, cluster[1], id, Ended, 300s);
  ASSERT_EQ(Str(done, "state"), "done") << json::serialize(done);
  EXPECT_EQ(Int(done, "bytes_done"), size);
  EXPECT_EQ(Str(done, "sha256"), sha);
  EXPECT_EQ(FileSha256(DatasetsDir(cluster[1]) + "/corpus/data"), sha);
  auto [shown, manifest] = cluster.Call(cluster[1], "GET", "/v1/datasets/corpus/manifest");
  ASSERT_EQ(shown, 200);
  EXPECT_EQ(Str(manifest.at("dataset"), "center"), "west");
  // Retried with the same key: the same transfer, not a second one.
  auto [again, same] = StartTransfer(cluster, cluster[1], "corpus", "east", "west");
  EXPECT_EQ(again, 200);
  EXPECT_EQ(Str(same.at("transfer"), "id"), id);
}

TEST(DatasetsTest, AReceiverKilledHalfwayResumesWithoutRefetching) {
  Cluster cluster;
  cluster.Start("east", "");
  // One chunk at a time, so that the kill lands halfway.
  cluster.Start("west", cluster[0].peer_url,
                [](config::CenterConfig& c) { c.datasets.streams = 1; });
  cluster.AwaitAllAlive();
  const int64_t size = 256 << 20, chunks = size / (1 << 20);
  const std::string sha = Put(cluster, cluster[0], "shards", size, "?chunk_size=1048576");
  ASSERT_FALSE(sha.empty());
  auto [status, started] = StartTransfer(cluster, cluster[1], "shards", "east", "west");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const std::string id = Str(started.at("transfer"), "id");
  const json::value half = AwaitTransfer(cluster, cluster[1], id, [&](const json::value& t) {
    return Int(t, "bytes_done") >= size / 4 || Ended(t);
  });
  ASSERT_EQ(Str(half, "state"), "moving") << "finished before the kill: make it bigger";
  cluster.Kill(1);
  const double served_before = Metric(cluster, cluster[0], "edwc_dataset_chunks_served_total");
  cluster.Restart(1);
  const json::value done = AwaitTransfer(cluster, cluster[1], id, Ended);
  ASSERT_EQ(Str(done, "state"), "done") << json::serialize(done);
  EXPECT_EQ(FileSha256(DatasetsDir(cluster[1]) + "/shards/data"), sha);
  // Every chunk was sent once, bar the one in flight at the kill.
  const double served = Metric(cluster, cluster[0], "edwc_dataset_chunks_served_total");
  EXPECT_GE(served, static_cast<double>(chunks));
  EXPECT_LE(served, static_cast<double>(chunks + 1)) << "verified chunks were fetched again";
  EXPECT_GT(served_before, static_cast<double>(chunks) / 4 - 1);
}

TEST(DatasetsTest, ACorruptChunkAtTheSourceIsCaughtAndNeverStored) {
  Cluster cluster;
  cluster.Start("east", "");
  cluster.Start("west", cluster[0].peer_url);
  cluster.AwaitAllAlive();
  const int64_t chunk = 64 << 10;
  ASSERT_FALSE(Put(cluster, cluster[0], "ledger", 10 * chunk, "?chunk_size=65536").empty());
  {  // One byte of chunk 3 flips on the source's disk.
    std::fstream f(DatasetsDir(cluster[0]) + "/ledger/data",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(3 * chunk + 100);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(3 * chunk + 100);
    f.write(&c, 1);
  }
  auto [status, started] = StartTransfer(cluster, cluster[1], "ledger", "east", "west");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const json::value end =
      AwaitTransfer(cluster, cluster[1], Str(started.at("transfer"), "id"), Ended);
  EXPECT_EQ(Str(end, "state"), "failed");
  EXPECT_NE(Str(end, "error").find("chunk 3"), std::string::npos) << json::serialize(end);
  EXPECT_NE(Str(end, "error").find("corrupt"), std::string::npos) << json::serialize(end);
  EXPECT_GE(Metric(cluster, cluster[1], "edwc_transfer_chunks_corrupt_total"), 3);
  auto [got, none] = cluster.Call(cluster[1], "GET", "/v1/datasets/ledger/manifest");
  EXPECT_EQ(got, 404) << json::serialize(none);
}

TEST(DatasetsTest, ASlowDirectLinkIsBypassedThroughARelay) {
  Cluster cluster;
  auto links = [](std::vector<config::LinkConfig> l) {
    return [l](config::CenterConfig& c) { c.federation.links = l; };
  };
  cluster.Start("east", "", links({{"relay", 10000, 5}, {"west", 10, 40}}));
  cluster.Start("relay", cluster[0].peer_url, links({{"west", 10000, 5}}));
  cluster.Start("west", cluster[0].peer_url);
  cluster.AwaitAllAlive();
  const std::string sha = Put(cluster, cluster[0], "maps", 8 << 20, "?chunk_size=1048576");
  ASSERT_FALSE(sha.empty());
  auto [status, started] = StartTransfer(cluster, cluster[2], "maps", "east", "west");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const json::value t = started.at("transfer");
  EXPECT_EQ(Str(t, "relay"), "relay") << json::serialize(t);
  const json::value done = AwaitTransfer(cluster, cluster[2], Str(t, "id"), Ended);
  ASSERT_EQ(Str(done, "state"), "done") << json::serialize(done);
  EXPECT_EQ(Str(done, "relay"), "relay");
  EXPECT_EQ(FileSha256(DatasetsDir(cluster[2]) + "/maps/data"), sha);
  EXPECT_EQ(done.at("plan").at("legs").as_array().size(), 2u);
}

TEST(DatasetsTest, ResidencyRefusesBeforeAByteMoves) {
  Cluster cluster;
  cluster.Start("east", "", [](config::CenterConfig& c) {
    c.center.zone = "yangtze-delta";
    c.datasets.residency = {{"personal-stays-east", {}, {"personal"}, {"yangtze-delta"}}};
  });
  cluster.Start("west", cluster[0].peer_url,
                [](config::CenterConfig& c) { c.center.zone = "ningxia"; });
  cluster.AwaitAllAlive();
  ASSERT_FALSE(Put(cluster, cluster[0], "patients", 1 << 20, "?tags=personal").empty());
  const double served = Metric(cluster, cluster[0], "edwc_dataset_chunks_served_total");
  auto [status, refused] = StartTransfer(cluster, cluster[1], "patients", "east", "west");
  EXPECT_EQ(status, 403) << json::serialize(refused);
  EXPECT_EQ(Str(refused.at("error"), "field"), "residency");
  EXPECT_NE(Str(refused.at("error"), "message").find("personal-stays-east"), std::string::npos)
      << json::serialize(refused);
  EXPECT_EQ(Metric(cluster, cluster[0], "edwc_dataset_chunks_served_total"), served);
  EXPECT_FALSE(fs::exists(DatasetsDir(cluster[1]) + "/patients"));
  auto [listed, audit] = cluster.Call(cluster[1], "GET", "/v1/audit", "", config::Role::kOperator);
  ASSERT_EQ(listed, 200) << json::serialize(audit);
  ASSERT_FALSE(audit.at("events").as_array().empty());
  EXPECT_EQ(Str(audit.at("events").at(0), "event"), "refused");
  // A direct chunk request from the other zone is refused too.
  auto [peer, denied] =
      cluster.PeerCall(cluster[0], "west", "GET", "/peer/v1/datasets/patients/chunks/0");
  EXPECT_EQ(peer, 403) << json::serialize(denied);
}

TEST(DatasetsTest, AJobRunsWhereItsInputWentAndItsResultComesHome) {
  Cluster cluster;
  auto h20 = [](int64_t fen) {
    return [fen](config::CenterConfig& c) {
      c.capacity.inventory = {{"h20", 8}};
      c.pricing.models = {{"h20", core::PriceSchedule{core::Money::Fen(fen), {}}}};
    };
  };
  cluster.Start("home", "", h20(90000));
  cluster.Start("west", cluster[0].peer_url, h20(500));
  cluster.AwaitAllAlive();
  const std::string sha = Put(cluster, cluster[0], "corpus", 3 << 20);
  ASSERT_FALSE(sha.empty());
  const std::string job = json::serialize(
      json::object{{"model", "h20"},
                   {"count", 1},
                   {"duration_minutes", 10},
                   {"inputs", json::array{json::object{{"dataset", "corpus"}, {"center", "home"}}}},
                   {"command", json::array{"sh", "-c",
                                           "sha256sum \"$EDWC_INPUT_DIR/corpus\" | cut -d' ' -f1 > "
                                           "\"$EDWC_OUTPUT_DIR/digest.txt\""}}});
  auto [submitted, placed] = cluster.Call(cluster[0], "POST", "/v1/jobs", job,
                                          config::Role::kBroker, {{"idempotency-key", "j-1"}});
  ASSERT_EQ(submitted, 201) << json::serialize(placed);
  const std::string id = Str(placed, "id");
  json::value end;
  for (int i = 0; i < 600; ++i) {
    auto [s, body] = cluster.Call(cluster[0], "GET", "/v1/jobs/" + id);
    end = body;
    const std::string state = Str(body, "state");
    if (state == "succeeded" || state == "failed" || state == "cancelled") break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(Str(end, "state"), "succeeded") << json::serialize(end);
  EXPECT_EQ(Str(end, "center"), "west") << json::serialize(end);
  ASSERT_TRUE(end.as_object().contains("output")) << json::serialize(end);
  const json::value output = end.at("output");
  EXPECT_EQ(Str(output, "center"), "west");
  // The result comes home: a transfer, then a plain download.
  auto [status, started] =
      StartTransfer(cluster, cluster[0], Str(output, "dataset"), "west", "home");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const json::value done =
      AwaitTransfer(cluster, cluster[0], Str(started.at("transfer"), "id"), Ended);
  ASSERT_EQ(Str(done, "state"), "done") << json::serialize(done);
  auto [got, bytes] = testing::Download(cluster, cluster[0], Str(output, "dataset"));
  EXPECT_EQ(got, 200) << bytes;
  EXPECT_EQ(bytes, sha + "\n");
}

}  // namespace
}  // namespace edwc
