#include "forwarded.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "config.hpp"

namespace kiln::test {
namespace {

// The settings kiln starts with, with these flags.
settings configured(std::vector<const char*> flags = {}) {
  return load_configuration(parse_command_line(flags), {}).values;
}

struct resolved {
  bool accepted = false;
  std::string client;
  std::string scheme;
};

resolved resolve(const settings& config, std::string_view peer, std::vector<header> headers) {
  request req;
  req.peer = peer;
  req.headers = std::move(headers);
  bool accepted = forwarding(config).resolve(req);
  return {accepted, std::string(req.client), std::string(req.scheme)};
}

}  // namespace

TEST_CASE("a trusted peer's scheme headers set the scheme, as gunicorn's defaults say",
          "[forwarded]") {
  auto defaults = configured();
  CHECK(resolve(defaults, "127.0.0.1:4000", {}).scheme == "http");
  CHECK(resolve(defaults, "127.0.0.1:4000", {{"X-Forwarded-Proto", "https"}}).scheme == "https");
  CHECK(resolve(defaults, "127.0.0.1:4000", {{"x-forwarded-proto", "HTTPS"}}).scheme == "https");
  CHECK(resolve(defaults, "[::1]:4000", {{"X-Forwarded-Ssl", "on"}}).scheme == "https");
  CHECK(resolve(defaults, "127.0.0.1:4000", {{"X-Forwarded-Protocol", "ssl"}}).scheme == "https");
  CHECK(resolve(defaults, "127.0.0.1:4000", {{"X-Forwarded-Proto", "http"}}).scheme == "http");
  // A unix socket's peer is the proxy on the same machine.
  CHECK(resolve(defaults, "-", {{"X-Forwarded-Proto", "https"}}).scheme == "https");
}

TEST_CASE("scheme headers that disagree are refused", "[forwarded]") {
  auto defaults = configured();
  auto contradiction = resolve(defaults, "127.0.0.1:4000",
                               {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Ssl", "off"}});
  CHECK_FALSE(contradiction.accepted);
  CHECK(resolve(defaults, "127.0.0.1:4000",
                {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Ssl", "on"}})
            .accepted);
}

TEST_CASE("from an untrusted peer the same headers change nothing", "[forwarded]") {
  auto defaults = configured();
  auto spoofed = resolve(defaults, "192.0.2.7:5000",
                         {{"X-Forwarded-Proto", "https"},
                          {"X-Forwarded-Ssl", "off"},
                          {"X-Forwarded-For", "203.0.113.1"}});
  CHECK(spoofed.accepted);  // Not even a contradiction counts.
  CHECK(spoofed.scheme == "http");
  CHECK(spoofed.client == "192.0.2.7");
}

TEST_CASE("the client is the rightmost X-Forwarded-For address no trusted hop stands for",
          "[forwarded]") {
  auto config = configured({"--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8"});
  // One trusted proxy: the address it appended.
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "203.0.113.1"}}).client ==
        "203.0.113.1");
  // What the client wrote itself, at the left, is not believed.
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "1.1.1.1, 203.0.113.1"}}).client ==
        "203.0.113.1");
  // Trusted hops are passed over, right to left, also across repeated fields.
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "1.1.1.1, 203.0.113.1, 10.0.0.5"}})
            .client == "203.0.113.1");
  CHECK(resolve(config, "127.0.0.1:1",
                {{"X-Forwarded-For", "1.1.1.1, 203.0.113.1"}, {"x-forwarded-for", "10.0.0.5"}})
            .client == "203.0.113.1");
  // All of them trusted: the leftmost.
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "10.0.0.9, 10.0.0.5"}}).client ==
        "10.0.0.9");
  // IPv6, and a peer with no header.
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "2001:db8::1"}}).client ==
        "2001:db8::1");
  CHECK(resolve(config, "127.0.0.1:1", {}).client == "127.0.0.1");
  // Something that is not an address stops the walk: the peer's is kept, or the last good one.
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "unknown"}}).client == "127.0.0.1");
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-For", "203.0.113.1, <script>, 10.0.0.5"}})
            .client == "10.0.0.5");
}

TEST_CASE("* trusts every peer; an empty list none", "[forwarded]") {
  auto everyone = configured({"--forwarded-allow-ips", "*"});
  auto anyone = resolve(everyone, "192.0.2.7:5000",
                        {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-For", "203.0.113.1"}});
  CHECK(anyone.scheme == "https");
  CHECK(anyone.client == "203.0.113.1");
  auto no_one = configured({"--forwarded-allow-ips", ""});
  auto local = resolve(no_one, "127.0.0.1:5000",
                       {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-For", "203.0.113.1"}});
  CHECK(local.scheme == "http");
  CHECK(local.client == "127.0.0.1");
}

TEST_CASE("secure_scheme_headers are the configured ones only", "[forwarded]") {
  auto config = configured({"--secure-scheme-headers", "X-Scheme: https"});
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Scheme", "https"}}).scheme == "https");
  CHECK(resolve(config, "127.0.0.1:1", {{"X-Forwarded-Proto", "https"}}).scheme == "http");
}

TEST_CASE("host_of takes the port and brackets off", "[forwarded]") {
  CHECK(host_of("127.0.0.1:5") == "127.0.0.1");
  CHECK(host_of("[::1]:5") == "::1");
  CHECK(host_of("-") == "");
}

}  // namespace kiln::test
