#pragma once
// A plain HTTP/1.1 GET against 127.0.0.1:port for tests: status code and body.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace slipway::testing {

struct HttpReply {
  int code = 0;
  std::string content_type;
  std::string body;
};

inline HttpReply HttpGet(uint16_t port, const std::string& path) {
  HttpReply reply;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return reply;
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return reply;
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return reply;
  reply.code = std::stoi(response.substr(9, 3));
  const size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) return reply;
  const std::string headers = response.substr(0, end);
  const size_t ct = headers.find("Content-Type: ");
  if (ct != std::string::npos) reply.content_type = headers.substr(ct + 14, headers.find("\r\n", ct) - ct - 14);
  reply.body = response.substr(end + 4);
  return reply;
}

}  // namespace slipway::testing
