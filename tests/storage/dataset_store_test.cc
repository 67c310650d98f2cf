#include "storage/dataset_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/dataset.h"
#include "core/time.h"

namespace edwc::storage {
namespace {

namespace fs = std::filesystem;
using core::Code;
using core::DatasetManifest;
using core::kMinChunkSize;

constexpr int64_t kChunk = kMinChunkSize;

// SHA-256 by OpenSSL's one-shot API, independent of the code under test.
std::string OneShotSha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr), 1);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class DatasetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "edwc_datasets_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp failed";
    dir_ = tmpl;
    store_ = OpenOrDie("src", "c-east");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  DatasetStorePtr OpenOrDie(const std::string& sub, const std::string& center) {
    auto store = DatasetStore::Open((dir_ / sub).string(), center, &clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Uploads `bytes` in pieces of uneven sizes.
  core::Result<DatasetManifest> Upload(DatasetStore& store, const std::string& name,
                                       std::string_view bytes, int64_t chunk_size = kChunk) {
    auto upload = store.BeginUpload(name, "cn-east", {"raw", "medical", "raw"}, chunk_size);
    if (!upload.ok()) return upload.status();
    const size_t pieces[] = {1, 1000, 70000, 4096, 200000};
    size_t at = 0;
    for (size_t p = 0; at < bytes.size(); ++p) {
      const size_t n = std::min(pieces[p % std::size(pieces)], bytes.size() - at);
      EDWC_RETURN_IF_ERROR((*upload)->Append(bytes.substr(at, n)));
      at += n;
    }
    return (*upload)->Commit();
  }

  DatasetManifest UploadOrDie(const std::string& name, std::string_view bytes) {
    auto m = Upload(*store_, name, bytes);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : DatasetManifest{};
  }

  std::string ReadAll(DatasetStore& store, const std::string& name) {
    auto reader = store.OpenRead(name);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return "";
    std::string out(static_cast<size_t>((*reader)->manifest().size), '\0');
    core::Status st = (*reader)->ReadAt(0, static_cast<int64_t>(out.size()), out.data());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::unique_ptr<PartialDataset> OpenPartialOrDie(DatasetStore& store, const std::string& id,
                                                   const DatasetManifest& m,
                                                   const std::vector<bool>& done) {
    auto partial = store.OpenPartial(id, m, done);
    EXPECT_TRUE(partial.ok()) << partial.status().ToString();
    return partial.ok() ? std::move(partial).value() : nullptr;
  }

  static std::string_view Chunk(std::string_view bytes, const DatasetManifest& m, int64_t i) {
    return bytes.substr(static_cast<size_t>(i * m.chunk_size),
                        static_cast<size_t>(m.chunk_length(i)));
  }

  fs::path dir_;
  core::ManualClock clock_{core::Time(core::Duration(1'764'000'000'123))};
  DatasetStorePtr store_;
};

TEST_F(DatasetStoreTest, UploadHashesEqualOneShotSha256) {
  const std::string bytes = RandomBytes(3 * kChunk + kChunk / 2, 1);
  const DatasetManifest m = UploadOrDie("genome.v1", bytes);
  EXPECT_EQ(m.name, "genome.v1");
  EXPECT_EQ(m.size, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(m.chunk_size, kChunk);
  ASSERT_EQ(m.chunk_count(), 4);
  ASSERT_EQ(m.chunk_sha256.size(), 4u);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(m.chunk_sha256[static_cast<size_t>(i)], OneShotSha256(Chunk(bytes, m, i))) << i;
  }
  EXPECT_EQ(m.sha256, OneShotSha256(bytes));
  EXPECT_EQ(m.zone, "cn-east");
  EXPECT_EQ(m.tags, (std::vector<std::string>{"medical", "raw"}));
  EXPECT_EQ(m.created_at, clock_.Now());

  auto got = store_->Get("genome.v1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, m);
  EXPECT_EQ(ReadFile(dir_ / "src" / "genome.v1" / "data"), bytes);
  EXPECT_EQ(ReadAll(*store_, "genome.v1"), bytes);

  auto reader = store_->OpenRead("genome.v1");
  ASSERT_TRUE(reader.ok());
  std::string chunk;
  ASSERT_TRUE((*reader)->ReadChunk(3, &chunk).ok());
  EXPECT_EQ(chunk, Chunk(bytes, m, 3));
  EXPECT_TRUE(DatasetStore::ChunkMatches(m, 3, chunk));
  EXPECT_FALSE(DatasetStore::ChunkMatches(m, 2, chunk));
  EXPECT_FALSE(DatasetStore::ChunkMatches(m, 4, chunk));
  EXPECT_EQ((*reader)->ReadChunk(4, &chunk).code(), Code::kInvalidArgument);
  char c;
  EXPECT_EQ((*reader)->ReadAt(m.size, 1, &c).code(), Code::kInvalidArgument);
  EXPECT_EQ(Sha256Hex(bytes), OneShotSha256(bytes));
}

TEST_F(DatasetStoreTest, EmptyDataset) {
  const DatasetManifest m = UploadOrDie("empty", "");
  EXPECT_EQ(m.size, 0);
  EXPECT_EQ(m.chunk_count(), 0);
  EXPECT_TRUE(m.chunk_sha256.empty());
  EXPECT_EQ(m.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ReadAll(*store_, "empty"), "");

  // An empty receive finishes at once.
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  auto partial = OpenPartialOrDie(*dst, "t-empty", m, {});
  ASSERT_NE(partial, nullptr);
  auto got = partial->Finish("empty");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->sha256, m.sha256);
}

TEST_F(DatasetStoreTest, CommitIsIdempotentForSameContentAndConflictsOtherwise) {
  const std::string bytes = RandomBytes(kChunk + 5, 2);
  const DatasetManifest first = UploadOrDie("weights", bytes);
  clock_.Advance(core::Duration(5000));
  auto again = Upload(*store_, "weights", bytes);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, first);  // the existing manifest, first created_at

  auto other = Upload(*store_, "weights", RandomBytes(kChunk + 5, 3));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kConflict);
  EXPECT_EQ(other.status().message(), "dataset weights exists with other content");
  EXPECT_EQ(ReadAll(*store_, "weights"), bytes);
  EXPECT_TRUE(fs::is_empty(dir_ / "src" / ".incoming"));
}

TEST_F(DatasetStoreTest, ListGetDelete) {
  UploadOrDie("b", "bee");
  UploadOrDie("a", "ay");
  UploadOrDie("c", RandomBytes(kChunk * 2, 4));
  auto list = store_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[1].name, "b");
  EXPECT_EQ((*list)[2].name, "c");

  ASSERT_TRUE(store_->Delete("b").ok());
  auto gone = store_->Get("b");
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.status().message().find("dataset b"), std::string::npos);
  EXPECT_EQ(store_->Delete("b").code(), Code::kNotFound);
  EXPECT_EQ(store_->OpenRead("b").status().code(), Code::kNotFound);

  store_ = OpenOrDie("src", "c-east");
  list = store_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[1].name, "c");
  EXPECT_EQ(ReadAll(*store_, "a"), "ay");
}

TEST_F(DatasetStoreTest, AbortAndOpenDropUncommittedUploads) {
  const fs::path incoming = dir_ / "src" / ".incoming";
  {
    auto upload = store_->BeginUpload("lost", "", {}, kChunk);
    ASSERT_TRUE(upload.ok());
    ASSERT_TRUE((*upload)->Append("some bytes").ok());
    EXPECT_FALSE(fs::is_empty(incoming));
  }  // destroyed without Commit
  EXPECT_TRUE(fs::is_empty(incoming));

  // What a crash leaves: an upload directory under .incoming and a partial receive.
  fs::create_directories(incoming / "upload-abc123");
  std::ofstream(incoming / "upload-abc123" / "data") << "half an upload";
  std::ofstream(dir_ / "src" / ".partial" / "t-1") << "resumable";
  store_ = OpenOrDie("src", "c-east");
  EXPECT_TRUE(fs::is_empty(incoming));
  EXPECT_EQ(ReadFile(dir_ / "src" / ".partial" / "t-1"), "resumable");
  EXPECT_EQ(store_->Get("lost").status().code(), Code::kNotFound);
}

TEST_F(DatasetStoreTest, PartialReceiveInShuffledOrderFromTwoThreads) {
  const std::string bytes = RandomBytes(10 * kChunk + 777, 5);
  const DatasetManifest source = UploadOrDie("scans", bytes);
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  auto partial = OpenPartialOrDie(*dst, "t-42", source, std::vector<bool>(11, false));
  ASSERT_NE(partial, nullptr);
  EXPECT_EQ(fs::file_size(dir_ / "dst" / ".partial" / "t-42"), bytes.size());

  std::vector<int64_t> order(11);
  for (int64_t i = 0; i < 11; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  auto worker = [&] {
    for (size_t k; (k = next.fetch_add(1)) < order.size();) {
      if (!partial->WriteChunk(order[k], Chunk(bytes, source, order[k])).ok()) ++failures;
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(partial->done(), 11);
  EXPECT_EQ(partial->bytes_done(), source.size);
  // A repeated chunk changes nothing.
  EXPECT_TRUE(partial->WriteChunk(3, Chunk(bytes, source, 3)).ok());
  EXPECT_EQ(partial->done(), 11);

  auto got = partial->Finish("scans");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  DatasetManifest expected = source;
  expected.center = "c-west";
  EXPECT_EQ(*got, expected);
  EXPECT_EQ(ReadAll(*dst, "scans"), bytes);
  EXPECT_FALSE(fs::exists(dir_ / "dst" / ".partial" / "t-42"));
  auto stored = dst->Get("scans");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, expected);
}

TEST_F(DatasetStoreTest, ResumeAfterRestart) {
  const std::string bytes = RandomBytes(7 * kChunk + 1, 6);
  const DatasetManifest source = UploadOrDie("logs", bytes);
  const fs::path dst_root = dir_ / "dst";
  std::vector<bool> done(8, false);
  {
    DatasetStorePtr dst = OpenOrDie("dst", "c-west");
    auto partial = OpenPartialOrDie(*dst, "t-7", source, done);
    ASSERT_NE(partial, nullptr);
    for (int64_t i : {0, 1, 2, 5, 6}) {  // an in-order prefix and some beyond it
      ASSERT_TRUE(partial->WriteChunk(i, Chunk(bytes, source, i)).ok());
      done[static_cast<size_t>(i)] = true;
    }
    EXPECT_EQ(partial->done(), 5);
  }  // the object and the store go away, as in a restart

  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  auto partial = OpenPartialOrDie(*dst, "t-7", source, done);
  ASSERT_NE(partial, nullptr);
  EXPECT_EQ(partial->done(), 5);
  EXPECT_EQ(partial->bytes_done(), 5 * kChunk);
  EXPECT_TRUE(partial->chunk_done(5));
  EXPECT_FALSE(partial->chunk_done(3));
  EXPECT_EQ(partial->Finish("logs").status().code(), Code::kFailedPrecondition);
  for (int64_t i : {7, 4, 3}) ASSERT_TRUE(partial->WriteChunk(i, Chunk(bytes, source, i)).ok());
  auto got = partial->Finish("logs");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->sha256, source.sha256);
  EXPECT_EQ(ReadAll(*dst, "logs"), bytes);
}

TEST_F(DatasetStoreTest, ChunksWrittenButNotRecordedAreRecoveredAfterARestart) {
  const std::string bytes = RandomBytes(6 * kChunk, 16);
  const DatasetManifest source = UploadOrDie("frames", bytes);
  {
    DatasetStorePtr dst = OpenOrDie("dst", "c-west");
    auto partial = OpenPartialOrDie(*dst, "t-9", source, std::vector<bool>(6, false));
    ASSERT_NE(partial, nullptr);
    for (int64_t i : {0, 2, 3}) {
      ASSERT_TRUE(partial->WriteChunk(i, Chunk(bytes, source, i), /*sync=*/false).ok());
    }
    std::string torn(Chunk(bytes, source, 4));
    torn.resize(torn.size() / 2);  // a write cut short by the crash
    torn.resize(static_cast<size_t>(kChunk), 'x');
    EXPECT_EQ(partial->WriteChunk(4, torn, false).code(), Code::kCorruption);
  }  // the crash: nothing was recorded as done
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  auto partial = dst->OpenPartial("t-9", source, std::vector<bool>(6, false), false);
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  auto recovered = (*partial)->RecoverWritten();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(*recovered, 3);  // 0, 2 and 3 match their hashes; 4 is torn, 1 and 5 are holes
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ((*partial)->chunk_done(i), i == 0 || i == 2 || i == 3);
  for (int64_t i : {1, 4, 5}) ASSERT_TRUE((*partial)->WriteChunk(i, Chunk(bytes, source, i)).ok());
  auto got = (*partial)->Finish("frames");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ReadAll(*dst, "frames"), bytes);
}

TEST_F(DatasetStoreTest, ResumeCountsAChunkBadOnDiskAsNotDone) {
  const std::string bytes = RandomBytes(4 * kChunk, 8);
  const DatasetManifest source = UploadOrDie("frames", bytes);
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  const fs::path file = dir_ / "dst" / ".partial" / "t-9";
  {
    auto partial = OpenPartialOrDie(*dst, "t-9", source, {false, false, false, false});
    ASSERT_TRUE(partial->WriteChunk(0, Chunk(bytes, source, 0)).ok());
    ASSERT_TRUE(partial->WriteChunk(1, Chunk(bytes, source, 1)).ok());
  }
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kChunk + 10);
    f.put('\x5a' ^ bytes[static_cast<size_t>(kChunk + 10)]);
  }
  auto partial = OpenPartialOrDie(*dst, "t-9", source, {true, true, false, false});
  ASSERT_NE(partial, nullptr);
  EXPECT_EQ(partial->done(), 1);
  EXPECT_FALSE(partial->chunk_done(1));
  for (int64_t i : {1, 2, 3}) ASSERT_TRUE(partial->WriteChunk(i, Chunk(bytes, source, i)).ok());
  auto got = partial->Finish("frames");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ReadAll(*dst, "frames"), bytes);

  // A partial file that is missing holds nothing, whatever the caller recorded.
  auto fresh = OpenPartialOrDie(*dst, "t-10", source, {true, true, true, true});
  EXPECT_EQ(fresh->done(), 0);
  EXPECT_TRUE(fresh->Discard().ok());
  EXPECT_FALSE(fs::exists(dir_ / "dst" / ".partial" / "t-10"));
}

TEST_F(DatasetStoreTest, CorruptChunkIsRefusedAndNeverCounted) {
  const std::string bytes = RandomBytes(3 * kChunk, 9);
  const DatasetManifest source = UploadOrDie("audio", bytes);
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  auto partial = OpenPartialOrDie(*dst, "t-3", source, {false, false, false});
  ASSERT_TRUE(partial->WriteChunk(1, Chunk(bytes, source, 1)).ok());

  std::string bad(Chunk(bytes, source, 2));
  bad[100] ^= 1;
  core::Status st = partial->WriteChunk(2, bad);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("chunk 2 at offset " + std::to_string(2 * kChunk)), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("t-3"), std::string::npos) << st.message();
  EXPECT_EQ(partial->WriteChunk(0, bad.substr(1)).code(), Code::kCorruption);  // length
  bad = std::string(Chunk(bytes, source, 1));
  bad[0] ^= 1;
  EXPECT_EQ(partial->WriteChunk(1, bad).code(), Code::kCorruption);  // over a done chunk
  EXPECT_EQ(partial->done(), 1);
  EXPECT_FALSE(partial->chunk_done(2));

  std::string on_disk = ReadFile(dir_ / "dst" / ".partial" / "t-3");
  ASSERT_EQ(on_disk.size(), bytes.size());
  EXPECT_EQ(on_disk.substr(0, kChunk), std::string(kChunk, '\0'));
  EXPECT_EQ(on_disk.substr(kChunk, kChunk), Chunk(bytes, source, 1));  // the good copy stays
  // The bad chunk's range holds whatever came until a good copy replaces it.
  ASSERT_TRUE(partial->WriteChunk(2, Chunk(bytes, source, 2)).ok());
  EXPECT_TRUE(partial->chunk_done(2));
  on_disk = ReadFile(dir_ / "dst" / ".partial" / "t-3");
  EXPECT_EQ(on_disk.substr(2 * kChunk), Chunk(bytes, source, 2));
}

TEST_F(DatasetStoreTest, WrongWholeSha256FailsFinish) {
  const std::string bytes = RandomBytes(2 * kChunk + 3, 10);
  DatasetManifest lying = UploadOrDie("video", bytes);
  lying.sha256 = OneShotSha256("something else");
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  auto partial = OpenPartialOrDie(*dst, "t-5", lying, {false, false, false});
  for (int64_t i : {2, 0, 1}) ASSERT_TRUE(partial->WriteChunk(i, Chunk(bytes, lying, i)).ok());
  auto got = partial->Finish("video");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kCorruption);
  EXPECT_NE(got.status().message().find("dataset video"), std::string::npos);
  EXPECT_EQ(dst->Get("video").status().code(), Code::kNotFound);
  EXPECT_TRUE(fs::exists(dir_ / "dst" / ".partial" / "t-5"));
}

TEST_F(DatasetStoreTest, FinishConflictsWithOtherContentAndKeepsThePartial) {
  const std::string bytes = RandomBytes(kChunk, 11);
  const DatasetManifest source = UploadOrDie("model", bytes);
  DatasetStorePtr dst = OpenOrDie("dst", "c-west");
  ASSERT_TRUE(Upload(*dst, "model", "other content").ok());
  auto partial = OpenPartialOrDie(*dst, "t-6", source, {false});
  ASSERT_TRUE(partial->WriteChunk(0, bytes).ok());
  EXPECT_EQ(partial->Finish("model").status().code(), Code::kConflict);
  EXPECT_TRUE(fs::exists(dir_ / "dst" / ".partial" / "t-6"));
  auto got = partial->Finish("model-2");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "model-2");
}

TEST_F(DatasetStoreTest, NamesAreValidated) {
  for (const char* ok : {"a", "A-1", "x.y_z", "0", "data.tar.gz"}) {
    EXPECT_TRUE(core::ValidDatasetName(ok)) << ok;
  }
  for (const std::string& bad : std::vector<std::string>{"", ".hidden", "-flag", "a/b", "..", "a b",
                                                         "\xc3\xa9", std::string(129, 'a')}) {
    EXPECT_FALSE(core::ValidDatasetName(bad)) << bad;
  }
  EXPECT_TRUE(core::ValidDatasetName(std::string(128, 'a')));
  EXPECT_EQ(store_->BeginUpload("../etc", "", {}, kChunk).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("ok", "", {}, kChunk - 1).status().field(), "chunk_size");
  EXPECT_EQ(store_->BeginUpload("ok", "", {""}, kChunk).status().field(), "tags[0]");
  EXPECT_EQ(store_->Get(".incoming").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->Delete("../src").code(), Code::kInvalidArgument);
  DatasetManifest m = UploadOrDie("x", "x");
  EXPECT_EQ(store_->OpenPartial("../t", m, {false}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->OpenPartial("t", m, {}).status().code(), Code::kInvalidArgument);
}

DatasetManifest SampleManifest() {
  DatasetManifest m;
  m.name = "sample";
  m.size = kChunk + 1;
  m.chunk_size = kChunk;
  m.chunk_sha256 = {Sha256Hex("a"), Sha256Hex("b")};
  m.sha256 = Sha256Hex("ab");
  m.zone = "cn-west";
  m.tags = {"a", "b"};
  m.center = "c-west";
  m.created_at = core::Time(core::Duration(1'764'000'000'123));
  return m;
}

TEST(DatasetManifestJson, RoundTrip) {
  const DatasetManifest m = SampleManifest();
  const boost::json::object o = core::ToJson(m);
  EXPECT_EQ(o.at("created_at").as_string(), "2025-11-24T16:00:00.123Z");
  auto text = boost::json::serialize(o);
  auto parsed = boost::json::parse(text).as_object();
  auto back = core::DatasetManifestFromJson(parsed);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, m);
}

TEST(DatasetManifestJson, StrictDecodingNamesTheField) {
  auto field_of = [](void (*edit)(boost::json::object&)) {
    boost::json::object o = core::ToJson(SampleManifest());
    edit(o);
    auto r = core::DatasetManifestFromJson(o);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    return r.status().field();
  };
  EXPECT_EQ(field_of([](boost::json::object& o) { o["owner"] = "x"; }), "owner");
  EXPECT_EQ(field_of([](boost::json::object& o) { o.erase("sha256"); }), "sha256");
  EXPECT_EQ(field_of([](boost::json::object& o) { o["size"] = 3 * kChunk; }), "chunk_sha256");
  EXPECT_EQ(field_of([](boost::json::object& o) { o["size"] = -1; }), "size");
  EXPECT_EQ(field_of([](boost::json::object& o) { o["chunk_size"] = 1024; }), "chunk_size");
  EXPECT_EQ(field_of([](boost::json::object& o) {
              o["chunk_sha256"].as_array()[1] = std::string(64, 'A');
            }),
            "chunk_sha256[1]");
  EXPECT_EQ(field_of([](boost::json::object& o) { o["sha256"] = "abc"; }), "sha256");
  EXPECT_EQ(field_of([](boost::json::object& o) {
              o["tags"] = boost::json::array{"b", "a"};
            }),
            "tags[1]");
  EXPECT_EQ(field_of([](boost::json::object& o) {
              o["tags"] = boost::json::array{"a", 1};
            }),
            "tags[1]");
  EXPECT_EQ(field_of([](boost::json::object& o) { o["created_at"] = "yesterday"; }), "created_at");
  EXPECT_EQ(field_of([](boost::json::object& o) { o["name"] = ".x"; }), "name");
}

}  // namespace
}  // namespace edwc::storage
