// HTTP request and response as plain values, free of Beast types so that route handlers
// and everything above them compile without Beast or Asio headers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace edwc::gateway {

struct HttpRequest {
  std::string method;              // "GET", "POST", ...
  std::string target;              // as sent: "/v1/centers?x=1"
  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', or empty
  // Header names are stored lower-case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_center;  // center id from the client certificate (peer listener only)

  // Value of header `lower_name`, or empty.
  std::string_view Header(std::string_view lower_name) const;
  // Value of query parameter `name` (not percent-decoded), or nullopt-like empty+false.
  bool QueryParam(std::string_view name, std::string* value) const;
};

class BodySource;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, sent instead of `body`: a cached rendering shared by many responses
  // (the server only reads it).
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // ask the server to close the connection after this response
  // When set, the body is streamed from it instead (downloads of any size): the server
  // sends Content-Length `source_length`, then pulls pieces (at most 1 MiB each) until it
  // has that many bytes. A response to HEAD sends the header only and never reads it.
  std::shared_ptr<BodySource> source;
  int64_t source_length = 0;

  static HttpResponse Json(int status, std::string body);
  // The JSON error body for `status` with the HTTP status mapped from its code.
  static HttpResponse Error(const core::Status& status);
};

// Maps an error code to its HTTP status (kInvalidArgument -> 400, kNotFound -> 404, ...).
int HttpStatusFor(core::Code code);

// Answers a request exactly once, from any thread. Copyable; cheap.
using Respond = std::function<void(HttpResponse)>;

// The server calls the handler on the connection's strand. A handler answers by calling
// `respond`, at once or later from any thread (e.g. after a durable write).
using Handler = std::function<void(HttpRequest&, Respond)>;

// A response body produced piece by piece (dataset downloads). The server asks for the
// next piece only after it has written the previous one, so at most one piece is in
// memory per connection.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Produces the next piece of at most `max` bytes (the server asks for no more than
  // what remains of source_length) and calls done(status, piece) once, from any thread.
  // A non-empty piece shorter than `max` is fine. An error or an empty piece before
  // source_length bytes makes the server close the connection (the status line is gone).
  virtual void Read(size_t max, std::function<void(core::Status, std::string)> done) = 0;
};

// A request body consumed piece by piece, for routes that take bodies of any size
// (dataset uploads; see Router::AddUpload). The server reads the next piece only after
// the previous Write's `done` ran: `piece` stays valid until then, and the sink sets the
// pace (it may hand the piece to a worker thread for a blocking write).
class BodySink {
 public:
  virtual ~BodySink() = default;
  // The next piece, in order. done(OK) asks for more; done(error) stops the upload: the
  // server answers with the error (HttpResponse::Error) and closes the connection.
  // `done` may run on any thread.
  virtual void Write(std::string_view piece, std::function<void(core::Status)> done) = 0;
  // The whole body arrived (Content-Length bytes, or the last chunk of a chunked body):
  // answer with `respond` (from any thread).
  virtual void Finish(Respond respond) = 0;
  // The upload ends without Finish: the client went away, timed out, or broke the
  // framing. No answer is possible or expected; clean up. Called at most once, never
  // after Finish nor after the sink refused a piece with done(error).
  virtual void Abort(const core::Status& why) = 0;
};

// Called by the server with a request whose header has been read and whose body has not:
// a sink to stream the body into, or nullptr to read the body whole as usual (up to the
// body limit) and call the Handler. An error status is answered at once (and the
// connection closed if a body was announced); the server does not count such answers in
// Metrics (Router::DispatchUpload does). Called on the connection's strand, for every
// request (HEAD as GET). A client's `Expect: 100-continue` is answered only once a sink
// took the request, so a refused upload is refused before its body is sent.
using UploadHandler = std::function<core::Result<std::shared_ptr<BodySink>>(HttpRequest& head)>;

}  // namespace edwc::gateway
