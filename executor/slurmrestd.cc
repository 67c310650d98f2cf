#include "executor/slurmrestd.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

namespace edwc::executor::slurmrestd {

namespace {

constexpr size_t kMaxResponseBytes = 64 << 20;  // a node list of some 100k nodes

core::Status Corruption(std::string message, std::string field) {
  return core::Status(core::Code::kCorruption, std::move(message), std::move(field));
}

core::Status Unavailable(std::string message) {
  return core::Status(core::Code::kUnavailable, std::move(message));
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Decodes a chunked body; nullopt while more input is needed.
core::Result<std::optional<std::string>> Dechunk(std::string_view in) {
  std::string out;
  for (size_t pos = 0;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::optional<std::string>();
    size_t size = 0;
    std::string_view hex = in.substr(pos, eol - pos);
    hex = hex.substr(0, hex.find(';'));
    auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || end != hex.data() + hex.size()) {
      return Corruption("bad chunk size", "response");
    }
    if (size == 0) return std::optional<std::string>(std::move(out));  // trailers ignored
    if (in.size() < eol + 2 + size + 2) return std::optional<std::string>();
    out.append(in.substr(eol + 2, size));
    pos = eol + 2 + size + 2;
  }
}

// The response once `raw` holds all of it (or at `eof`); nullopt while more is needed.
core::Result<std::optional<HttpResponse>> ParseHttpResponse(std::string_view raw, bool eof) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (eof) return Corruption("connection closed before the response header ended", "response");
    return std::optional<HttpResponse>();
  }
  std::string_view head = raw.substr(0, head_end);
  std::string_view body = raw.substr(head_end + 4);
  HttpResponse response;
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 ||
      std::from_chars(status_line.data() + 9, status_line.data() + 12, response.status).ec !=
          std::errc()) {
    return Corruption("bad status line '" + std::string(status_line.substr(0, 80)) + "'",
                      "response");
  }
  std::optional<size_t> length;
  bool chunked = false;
  while (line_end != std::string_view::npos) {
    size_t next = head.find("\r\n", line_end + 2);
    std::string_view line = head.substr(line_end + 2, next - line_end - 2);
    line_end = next;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (IEquals(name, "content-length")) {
      size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size()) {
        return Corruption("bad Content-Length", "response");
      }
      length = n;
    } else if (IEquals(name, "transfer-encoding") && value.find("chunked") != value.npos) {
      chunked = true;
    }
  }
  if (chunked) {
    EDWC_ASSIGN_OR_RETURN(std::optional<std::string> decoded, Dechunk(body));
    if (!decoded) {
      if (eof) return Corruption("connection closed inside a chunked body", "response");
      return std::optional<HttpResponse>();
    }
    response.body = std::move(*decoded);
  } else if (length) {
    if (body.size() < *length) {
      if (eof) return Corruption("connection closed before Content-Length bytes", "response");
      return std::optional<HttpResponse>();
    }
    response.body = body.substr(0, *length);
  } else {
    if (!eof) return std::optional<HttpResponse>();
    response.body = body;
  }
  return std::optional<HttpResponse>(std::move(response));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

// Waits until `fd` is ready for `events` or the deadline passes (false).
bool AwaitFd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the following call report the error
  }
}

}  // namespace

core::Result<HttpResponse> Request(const std::string& socket_path, std::string_view method,
                                   const std::string& target, std::string_view body,
                                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return Unavailable("socket path too long");
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Unavailable(Errno("socket"));
  // A non-blocking unix connect either completes at once or fails (EAGAIN: backlog full).
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Unavailable(Errno("connect"));
  }
  std::string request = std::string(method) + " " + target +
                        " HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                        "User-Agent: edwc\r\nConnection: close\r\n";
  if (!body.empty()) {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  for (size_t sent = 0; sent < request.size();) {
    if (!AwaitFd(fd.get(), POLLOUT, deadline)) return Unavailable("timed out writing the request");
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN) return Unavailable(Errno("send"));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    if (!AwaitFd(fd.get(), POLLIN, deadline)) return Unavailable("timed out reading the response");
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Unavailable(Errno("recv"));
    }
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > kMaxResponseBytes) return Corruption("response over 64 MiB", "response");
    EDWC_ASSIGN_OR_RETURN(std::optional<HttpResponse> response, ParseHttpResponse(raw, n == 0));
    if (response) return std::move(*response);
  }
}

std::string Excerpt(std::string_view body) {
  std::string excerpt(body.substr(0, 200));
  while (!excerpt.empty() && std::isspace(static_cast<unsigned char>(excerpt.back()))) {
    excerpt.pop_back();
  }
  return excerpt;
}

}  // namespace edwc::executor::slurmrestd
