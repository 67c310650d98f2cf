// `edwc dataset put|get|list|show|rm`: datasets at the home center (docs/datasets.md).
// Uploads and downloads stream: memory stays at one piece whatever the file's size.
#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/job_format.h"
#include "cli/progress.h"
#include "cli/request_flags.h"
#include "cli/verb.h"
#include "core/dataset.h"
#include "core/ids.h"
#include "core/json.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

// Streams are slow by nature: each piece gets this long, not the whole transfer.
constexpr std::chrono::seconds kStreamTimeout(120);

constexpr char kUsage[] = R"(Usage:
  edwc dataset put FILE [--name N] [--zone Z] [--tag T]... [--chunk-size BYTES] [--quiet]
  edwc dataset get NAME [-o FILE] [--range A-B] [--quiet]
  edwc dataset list
  edwc dataset show NAME
  edwc dataset rm NAME
Each accepts --json (except get), the connection flags and --help.
)";

constexpr char kPutHelp[] =
    R"(Usage: edwc dataset put FILE [--name N] [--zone Z] [--tag T]... [--chunk-size BYTES]

Uploads FILE as a dataset at the home center (PUT /v1/datasets/NAME), streaming it, and
prints its manifest. The same bytes again are a harmless retry; other bytes under an
existing name are refused (remove it first).
  --name N           the dataset's name (default: FILE's base name); [A-Za-z0-9._-]
  --zone Z           the residency zone the data belongs to (default: the center's)
  --tag T            a classification tag (personal, medical, ...); repeatable
  --chunk-size B     chunk size, 64KiB..64MiB (default: the center's, usually 4MiB)
  --quiet, -q        no progress bar
  --json             print the JSON answer
Example:
  edwc dataset put corpus.tar --name corpus-2026 --tag personal --chunk-size 8MiB
)";

constexpr char kGetHelp[] = R"(Usage: edwc dataset get NAME [-o FILE] [--range A-B]

Downloads a dataset (GET /v1/datasets/NAME) to FILE.part, then renames it to FILE. A
whole download is checked against the dataset's SHA-256.
  -o, --output FILE  where to write (default: NAME here); - writes to stdout
  --range A-B        only bytes A to B (0-based, inclusive); A- to the end, -N the last N
                     (not checked against the SHA-256)
  --quiet, -q        no progress bar
Example:
  edwc dataset get corpus-2026 -o /data/corpus.tar
Exit status: 0 downloaded (and verified), 1 a failure or a SHA-256 mismatch, 2 bad usage.
)";

constexpr char kListHelp[] = R"(Usage: edwc dataset list [--json]

Lists the datasets at the home center: NAME SIZE CHUNKS ZONE TAGS SHA256 CREATED.
  --json             print the JSON answer of GET /v1/datasets
Example:
  edwc dataset list
)";

constexpr char kShowHelp[] = R"(Usage: edwc dataset show NAME [--json]

Prints a dataset's manifest: size, chunks, SHA-256, zone, tags, center, creation time.
  --json             print the JSON answer of GET /v1/datasets/NAME/manifest
Example:
  edwc dataset show corpus-2026
)";

constexpr char kRmHelp[] = R"(Usage: edwc dataset rm NAME [--json]

Deletes a dataset (DELETE /v1/datasets/NAME). Downloads already running finish.
  --json             print the JSON answer
Example:
  edwc dataset rm corpus-2026
)";

// argv with the short forms spelled out: -o -> --output, -q -> --quiet.
struct LongArgv {
  std::vector<std::string> words;
  std::vector<char*> argv;
  LongArgv(int argc, char** raw) {
    for (int i = 0; i < argc; ++i) {
      const std::string w = raw[i];
      words.push_back(w == "-o" ? "--output" : w == "-q" ? "--quiet" : w);
    }
    for (std::string& w : words) argv.push_back(w.data());
  }
  int argc() const { return static_cast<int>(argv.size()); }
};

// Parses; an exit code when the verb ends here (help or a usage error).
std::optional<int> Parse(const Verb& verb, int argc, char** argv, Args* args, const char* help,
                         size_t positional, const char* what = "a dataset name") {
  LongArgv long_argv(argc, argv);
  args->AllowPositional(positional);
  if (auto st = args->Parse(long_argv.argc(), long_argv.argv.data(), 3); !st.ok()) {
    return verb.Usage(st.message());
  }
  if (args->Has("help")) {
    std::printf("%sConnection:\n%s", help, ConnectionHelp("broker").c_str());
    return kExitOk;
  }
  if (args->positional().size() != positional) {
    return verb.Usage(positional == 1 ? std::string("give one argument: ") + what + " (see --help)"
                                      : std::string("unexpected argument (see --help)"));
  }
  return std::nullopt;
}

std::optional<std::string> HeaderValue(const gateway::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  }
  return std::nullopt;
}

int64_t IntField(const json::value& o, std::string_view key, int64_t fallback) {
  const json::value* v = o.is_object() ? o.as_object().if_contains(key) : nullptr;
  return v != nullptr && v->is_int64() ? v->as_int64() : fallback;
}

std::string TagsText(const json::value& m) {
  const json::value* tags = m.is_object() ? m.as_object().if_contains("tags") : nullptr;
  std::string out;
  if (tags == nullptr || !tags->is_array()) return "-";
  for (const json::value& t : tags->as_array()) {
    if (!t.is_string()) continue;
    if (!out.empty()) out += ',';
    out += std::string(t.as_string());
  }
  return out.empty() ? "-" : out;
}

int64_t ChunkCount(const json::value& m) {
  if (const json::value* c = m.as_object().if_contains("chunk_sha256"); c && c->is_array()) {
    return static_cast<int64_t>(c->as_array().size());
  }
  return IntField(m, "chunks", -1);
}

// The manifest as a block, under `title`.
std::string RenderManifest(const json::value& m, const std::string& title) {
  const int64_t size = IntField(m, "size", -1);
  const int64_t chunks = ChunkCount(m);
  std::string out = title + "\n";
  auto row = [&](const char* key, const std::string& value) {
    char label[16];
    std::snprintf(label, sizeof label, "  %-9s", key);
    out += label + value + "\n";
  };
  row("size", HumanBytes(size) + " (" + FieldText(m, "size") + " bytes)");
  row("chunks", (chunks < 0 ? std::string("-") : std::to_string(chunks)) + " × " +
                    HumanBytes(IntField(m, "chunk_size", -1)));
  row("sha256", FieldText(m, "sha256"));
  row("zone", FieldText(m, "zone"));
  row("tags", TagsText(m));
  row("center", FieldText(m, "center"));
  row("created", CompactTime(FieldText(m, "created_at")));
  return out;
}

// {"dataset": manifest} from an answer's body.
std::optional<json::value> ManifestOf(const std::string& body) {
  auto doc = core::ParseJsonObject(body);
  if (!doc.ok()) return std::nullopt;
  const json::value* m = doc->if_contains("dataset");
  if (m == nullptr || !m->is_object()) return std::nullopt;
  return *m;
}

core::Result<std::unique_ptr<gateway::HttpsClient>> StreamClient(const Connection& c) {
  auto client = gateway::HttpsClient::Create(c.url, {c.ca_file, "", "", false}, kStreamTimeout);
  if (!client.ok()) return client.status().WithContext(c.url);
  return client;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

int Put(int argc, char** argv) {
  const Verb verb{"edwc dataset put"};
  Args args = MakeArgs(verb.name, {"name", "zone", "tag", "chunk-size"}, {"quiet"});
  if (auto done = Parse(verb, argc, argv, &args, kPutHelp, 1, "the FILE to upload")) {
    return *done;
  }
  const std::string file = args.positional()[0];
  const std::string name =
      args.Get("name").value_or(std::filesystem::path(file).filename().string());
  if (!core::ValidDatasetName(name)) {
    return verb.Usage("'" + name +
                      "' is not a dataset name: 1-128 of [A-Za-z0-9._-], not starting with . "
                      "or - (see --name)");
  }
  int64_t chunk_size = 0;
  if (auto text = args.Get("chunk-size")) {
    auto bytes = ParseSizeBytes(*text);
    if (!bytes.ok()) return verb.Usage("--chunk-size: " + bytes.status().message());
    if (*bytes < core::kMinChunkSize || *bytes > core::kMaxChunkSize) {
      return verb.Usage("--chunk-size must be 64KiB..64MiB, got '" + *text + "'");
    }
    chunk_size = *bytes;
  }
  std::vector<std::string> tags;
  for (const std::string& t : args.GetAll("tag")) {
    if (t.empty() || t.find(',') != std::string::npos) {
      return verb.Usage("--tag takes one tag, got '" + t + "' (repeat --tag)");
    }
    tags.push_back(t);
  }
  FilePtr in(std::fopen(file.c_str(), "rb"));
  struct stat st {};
  if (!in || ::fstat(::fileno(in.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
    return verb.Usage("cannot read " + file + ": " +
                      (in ? std::string("not a regular file") : std::strerror(errno)));
  }
  auto connection = ResolveConnection(args, "broker");
  if (!connection.ok()) return verb.Usage(connection.status().message());
  auto client = StreamClient(*connection);
  if (!client.ok()) return verb.Usage(client.status().message());

  const int64_t size = st.st_size;
  core::SystemClock clock;
  ProgressBar bar("uploaded", StderrProgress(args.Has("quiet") || args.Has("json")), &clock);
  bar.Update(0, size);
  auto read = [&](char* buffer, size_t max) -> core::Result<size_t> {
    const size_t n = std::fread(buffer, 1, max, in.get());
    if (n == 0) return core::Status(core::Code::kInternal, "cannot read " + file);
    return n;
  };
  auto r = (*client)->Upload(
      "PUT", DatasetPutTarget(name, args.Get("zone").value_or(""), tags, chunk_size), size, read,
      {{"authorization", "Bearer " + connection->token},
       {"content-type", "application/octet-stream"}},
      [&](int64_t sent) { bar.Update(sent, size); });
  const bool ok = r.ok() && (r->status == 200 || r->status == 201);
  bar.Finish(ok);
  if (!r.ok()) return verb.Fail(r.status().WithContext(connection->url).message());
  if (r->status == 409) {
    return verb.Fail("dataset '" + name + "' exists with other bytes; `edwc dataset rm " + name +
                     "` first to replace it (409)");
  }
  if (!ok) return verb.FailHttp(*r);
  if (args.Has("json")) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  auto m = ManifestOf(r->body);
  if (!m) return verb.Fail("unreadable answer");
  const std::string center = FieldText(*m, "center");
  const std::string at = center == "-" ? "" : " to " + center;
  const std::string title = r->status == 200
                                ? "dataset " + name + " was already uploaded" + at + " (same bytes)"
                                : "uploaded " + name + at;
  std::fputs(RenderManifest(*m, title).c_str(), stdout);
  return kExitOk;
}

int Get(int argc, char** argv) {
  const Verb verb{"edwc dataset get"};
  Args args = MakeArgs(verb.name, {"output", "range"}, {"quiet"});
  if (auto done = Parse(verb, argc, argv, &args, kGetHelp, 1)) return *done;
  if (args.Has("json")) return verb.Usage("--json does not apply: the answer is the bytes");
  const std::string name = args.positional()[0];
  if (!core::ValidDatasetName(name)) return verb.Usage("'" + name + "' is not a dataset name");
  std::string range;
  if (auto text = args.Get("range")) {
    auto header = RangeHeader(*text);
    if (!header.ok()) return verb.Usage("--range: " + header.status().message());
    range = *header;
  }
  const std::string path = args.Get("output").value_or(name);
  if (path.empty()) return verb.Usage("--output needs a file name (or - for stdout)");
  auto connection = ResolveConnection(args, "broker");
  if (!connection.ok()) return verb.Usage(connection.status().message());
  return DownloadDataset(verb.name, *connection, name, path, range, args.Has("quiet"));
}

int List(int argc, char** argv) {
  const Verb verb{"edwc dataset list"};
  Args args = MakeArgs(verb.name, {}, {});
  if (auto done = Parse(verb, argc, argv, &args, kListHelp, 0)) return *done;
  auto connection = ResolveConnection(args, "broker");
  if (!connection.ok()) return verb.Usage(connection.status().message());
  auto client = ApiClient::Create(*connection);
  if (!client.ok()) return verb.Usage(client.status().message());
  auto r = (*client)->Request("GET", "/v1/datasets");
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r);
  if (args.Has("json")) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  auto doc = core::ParseJsonObject(r->body);
  if (!doc.ok()) return verb.Fail("unreadable answer: " + doc.status().message());
  std::vector<std::vector<std::string>> rows;
  if (const json::value* list = doc->if_contains("datasets"); list && list->is_array()) {
    for (const json::value& m : list->as_array()) {
      if (!m.is_object()) continue;
      const int64_t chunks = ChunkCount(m);
      rows.push_back({FieldText(m, "name"), HumanBytes(IntField(m, "size", -1)),
                      chunks < 0 ? "-" : std::to_string(chunks), FieldText(m, "zone"), TagsText(m),
                      FieldText(m, "sha256").substr(0, 12),
                      CompactTime(FieldText(m, "created_at"))});
    }
  }
  if (rows.empty()) {
    std::printf("no datasets at %s\n", (*client)->url().c_str());
    return kExitOk;
  }
  std::fputs(RenderTable({"NAME", "SIZE", "CHUNKS", "ZONE", "TAGS", "SHA256", "CREATED"}, rows,
                         {false, true, true, false, false, false, false})
                 .c_str(),
             stdout);
  return kExitOk;
}

// show and rm: one dataset name.
int OneDataset(int argc, char** argv, const std::string& sub) {
  const Verb verb{"edwc dataset " + sub};
  Args args = MakeArgs(verb.name, {}, {});
  if (auto done = Parse(verb, argc, argv, &args, sub == "show" ? kShowHelp : kRmHelp, 1)) {
    return *done;
  }
  const std::string name = args.positional()[0];
  if (!core::ValidDatasetName(name)) return verb.Usage("'" + name + "' is not a dataset name");
  auto connection = ResolveConnection(args, "broker");
  if (!connection.ok()) return verb.Usage(connection.status().message());
  auto client = ApiClient::Create(*connection);
  if (!client.ok()) return verb.Usage(client.status().message());
  const bool show = sub == "show";
  auto r = (*client)->Request(show ? "GET" : "DELETE",
                              "/v1/datasets/" + name + (show ? "/manifest" : ""));
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r, "dataset '" + name + "'");
  if (args.Has("json")) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  if (!show) {
    std::printf("deleted dataset %s\n", name.c_str());
    return kExitOk;
  }
  auto m = ManifestOf(r->body);
  if (!m) return verb.Fail("unreadable answer");
  std::fputs(RenderManifest(*m, "dataset " + name).c_str(), stdout);
  return kExitOk;
}

// Where the bytes of a download go: FILE.part (renamed at the end) or stdout, hashed on
// the way.
class DownloadSink {
 public:
  explicit DownloadSink(std::string path) : path_(std::move(path)), digest_(EVP_MD_CTX_new()) {}
  ~DownloadSink() {
    EVP_MD_CTX_free(digest_);
    if (file_ != nullptr && file_ != stdout) std::fclose(file_);
    if (!committed_ && !to_stdout()) std::remove(part().c_str());
  }
  bool to_stdout() const { return path_ == "-"; }
  std::string part() const { return path_ + ".part"; }

  core::Status Open() {
    if (digest_ == nullptr || EVP_DigestInit_ex(digest_, EVP_sha256(), nullptr) != 1) {
      return core::Status(core::Code::kInternal, "cannot start SHA-256");
    }
    file_ = to_stdout() ? stdout : std::fopen(part().c_str(), "wb");
    if (file_ == nullptr) {
      return core::Status(core::Code::kInvalidArgument,
                          "cannot write " + part() + ": " + std::strerror(errno));
    }
    return core::Status::Ok();
  }
  core::Status Write(std::string_view piece) {
    if (std::fwrite(piece.data(), 1, piece.size(), file_) != piece.size() ||
        EVP_DigestUpdate(digest_, piece.data(), piece.size()) != 1) {
      return core::Status(core::Code::kInternal,
                          "cannot write " + (to_stdout() ? std::string("stdout") : part()) + ": " +
                              std::strerror(errno));
    }
    bytes_ += static_cast<int64_t>(piece.size());
    return core::Status::Ok();
  }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(digest_, md, &size) != 1) return {};
    return core::HexEncode(std::string_view(reinterpret_cast<const char*>(md), size));
  }
  // Flushes and closes, then renames FILE.part to FILE.
  core::Status Commit() {
    const bool flushed = std::fflush(file_) == 0;
    if (to_stdout()) return flushed ? core::Status::Ok() : WriteError("stdout");
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!flushed || !closed) return WriteError(part());
    if (std::rename(part().c_str(), path_.c_str()) != 0) return WriteError(path_);
    committed_ = true;
    return core::Status::Ok();
  }
  int64_t bytes() const { return bytes_; }

 private:
  static core::Status WriteError(const std::string& what) {
    return core::Status(core::Code::kInternal,
                        "cannot write " + what + ": " + std::strerror(errno));
  }
  std::string path_;
  EVP_MD_CTX* digest_;
  std::FILE* file_ = nullptr;
  int64_t bytes_ = 0;
  bool committed_ = false;
};

}  // namespace

int DownloadDataset(const std::string& verb_name, const Connection& connection,
                    const std::string& name, const std::string& path, const std::string& range,
                    bool quiet) {
  const Verb verb{verb_name};
  auto client = StreamClient(connection);
  if (!client.ok()) return verb.Usage(client.status().message());
  DownloadSink sink(path);
  if (auto st = sink.Open(); !st.ok()) return verb.Fail(st.message());
  core::SystemClock clock;
  ProgressBar bar("downloaded", StderrProgress(quiet), &clock);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"authorization", "Bearer " + connection.token}};
  if (!range.empty()) headers.emplace_back("range", range);
  auto r = (*client)->Download(
      "GET", "/v1/datasets/" + name, headers,
      [&](std::string_view piece) { return sink.Write(piece); },
      [&](int64_t received, int64_t total) { bar.Update(received, total); });
  const bool ok = r.ok() && (r->status == 200 || r->status == 206);
  if (!ok) {
    bar.Finish(false);
    if (!r.ok()) {
      return verb.Fail(r.status().WithContext(connection.url).message() + " after " +
                       HumanBytes(sink.bytes()));
    }
    return verb.FailHttp(*r, "dataset '" + name + "'");
  }
  std::string verified;
  if (r->status == 200) {
    const std::optional<std::string> want = HeaderValue(*r, "x-edwc-sha256");
    const std::string got = sink.HexDigest();
    if (want && *want != got) {
      bar.Finish(false);
      return verb.Fail("SHA-256 mismatch for " + name + ": got " + got + ", the server says " +
                       *want + "; nothing kept");
    }
    verified = want ? ", sha256 verified" : ", sha256 not checked: the server sent none";
  }
  bar.Finish(true);
  if (auto st = sink.Commit(); !st.ok()) return verb.Fail(st.message());
  if (!sink.to_stdout()) {
    std::printf("downloaded %s to %s (%s%s)\n", name.c_str(), path.c_str(),
                HumanBytes(sink.bytes()).c_str(), verified.c_str());
  }
  return kExitOk;
}

int DatasetCommand(int argc, char** argv) {
  const std::string sub = argc >= 3 ? argv[2] : "";
  if (sub == "put") return Put(argc, argv);
  if (sub == "get") return Get(argc, argv);
  if (sub == "list") return List(argc, argv);
  if (sub == "show" || sub == "rm") return OneDataset(argc, argv, sub);
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    std::fputs(
        "\nExample:\n  edwc dataset put corpus.tar --name corpus-2026\n"
        "  edwc dataset get corpus-2026 -o corpus.tar\n",
        stdout);
    return kExitOk;
  }
  return UnknownSubcommand("edwc dataset", sub, kUsage);
}

}  // namespace edwc::cli
