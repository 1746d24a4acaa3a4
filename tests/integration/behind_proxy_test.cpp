// kiln behind a load balancer: the scheme and the client's address from a trusted proxy's headers
// (forwarded_allow_ips, secure_scheme_headers), and from the PROXY protocol's header
// (proxy_protocol, proxy_allow_ips); the same bytes from an untrusted peer change nothing.
#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string wsgi_fixtures = std::string(KILN_FIXTURES) + "/wsgi";
const std::string gunicorn_fixtures = std::string(KILN_FIXTURES) + "/gunicorn";

// The probe app with the access log on stdout, and these settings.
kiln_process probe(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"-b",          "127.0.0.1:0",      "-w", "1", "--chdir",
                                     wsgi_fixtures, "--access-logfile", "-"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  arguments.push_back("probe:application");
  return kiln_process({.arguments = arguments, .unset = kiln_variables()});
}

// What the app saw of a request sent as these bytes.
nlohmann::json environ_for(http_client& client, const std::string& bytes) {
  REQUIRE(client.send(bytes));
  auto response = client.read_response();
  REQUIRE(response);
  REQUIRE(response->status == 200);
  return nlohmann::json::parse(response->body);
}

nlohmann::json environ_for(std::uint16_t port, const std::string& headers) {
  http_client client(port);
  return environ_for(client, get("/environ", headers));
}

const std::string proxy_headers =
    "X-Forwarded-Proto: https\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n";

// A PROXY v2 header for a TCP client at 203.0.113.7:56324 that connected to 10.0.0.1:443.
std::string proxy_v2() {
  std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
  const unsigned char rest[] = {0x21, 0x11, 0x00, 0x0c, 203,  0,    113,  7,
                                10,   0,    0,    1,    0xdc, 0x04, 0x01, 0xbb};
  header.append(reinterpret_cast<const char*>(rest), sizeof rest);
  return header;
}

}  // namespace

TEST_CASE("a trusted proxy's headers give the app the scheme and the client's address", "[proxy]") {
  auto kiln = probe();  // forwarded_allow_ips: 127.0.0.1 and ::1, the default.
  auto seen = environ_for(kiln.port(), proxy_headers);
  CHECK(seen["wsgi.url_scheme"] == "https");
  CHECK(seen["REMOTE_ADDR"] == "203.0.113.9");
  CHECK_FALSE(seen.contains("REMOTE_PORT"));  // The port kiln knows is the proxy's.
  CHECK(seen["HTTP_X_FORWARDED_FOR"] == "198.51.100.1, 203.0.113.9");
  // The access log's remote address is the client's.
  CHECK(kiln.wait_for_output("\n203.0.113.9 - - ["));
  // Without the headers, the peer itself.
  auto direct = environ_for(kiln.port(), "");
  CHECK(direct["wsgi.url_scheme"] == "http");
  CHECK(direct["REMOTE_ADDR"] == "127.0.0.1");
  CHECK(direct.contains("REMOTE_PORT"));
}

TEST_CASE("from an untrusted peer the same headers change nothing", "[proxy]") {
  auto kiln = probe({"--forwarded-allow-ips", "10.0.0.0/8"});
  auto seen = environ_for(kiln.port(), proxy_headers);
  CHECK(seen["wsgi.url_scheme"] == "http");
  CHECK(seen["REMOTE_ADDR"] == "127.0.0.1");
  CHECK(kiln.wait_for_output("\n127.0.0.1 - - ["));
  CHECK(kiln.output().find("203.0.113.9") == std::string::npos);
  // FORWARDED_ALLOW_IPS says the same, as in gunicorn.
  kiln_process from_variable(
      {.arguments = {"-b", "127.0.0.1:0", "-w", "1", "--chdir", wsgi_fixtures, "probe:application"},
       .environment = {{"FORWARDED_ALLOW_IPS", "192.0.2.1"}},
       .unset = kiln_variables()});
  CHECK(environ_for(from_variable.port(), proxy_headers)["wsgi.url_scheme"] == "http");
}

TEST_CASE("Flask's external URLs follow the trusted proxy's scheme", "[proxy]") {
  auto ask = [](std::uint16_t port) {
    http_client client(port);
    REQUIRE(client.send(get("/api/self", proxy_headers)));
    auto response = client.read_response();
    REQUIRE(response);
    REQUIRE(response->status == 200);
    return nlohmann::json::parse(response->body);
  };
  std::vector<std::string> base{"-b", "127.0.0.1:0", "-w", "1", "--chdir", gunicorn_fixtures};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), base.begin(), base.end());
    more.push_back("external_url:app");
    return more;
  };
  kiln_process trusted({.arguments = with({}), .unset = kiln_variables()});
  CHECK(ask(trusted.port()) ==
        nlohmann::json{{"url", "https://kiln/api/self"}, {"remote_addr", "203.0.113.9"}});
  kiln_process untrusted(
      {.arguments = with({"--forwarded-allow-ips", "192.0.2.0/24"}), .unset = kiln_variables()});
  CHECK(ask(untrusted.port()) ==
        nlohmann::json{{"url", "http://kiln/api/self"}, {"remote_addr", "127.0.0.1"}});
}

TEST_CASE("scheme headers that contradict each other are a 400 from a trusted peer only",
          "[proxy]") {
  std::string contradiction = "X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n";
  auto trusted = probe();
  http_client client(trusted.port());
  REQUIRE(client.send(get("/environ", contradiction)));
  auto refused = client.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 400);
  CHECK(refused->header("Connection") == "close");
  CHECK(client.closed_by_server());
  auto untrusted = probe({"--forwarded-allow-ips", "10.0.0.0/8"});
  CHECK(environ_for(untrusted.port(), contradiction)["wsgi.url_scheme"] == "http");
}

TEST_CASE("secure_scheme_headers from a gunicorn config file's dict", "[proxy]") {
  temporary_directory directory("kiln-proxy");
  directory.write("gunicorn_config.py",
                  "secure_scheme_headers = {\"X-Scheme\": \"https\"}\n"
                  "forwarded_allow_ips = \"*\"\n");
  auto kiln = probe({"-c", directory / "gunicorn_config.py"});
  CHECK(environ_for(kiln.port(), "X-Scheme: https\r\n")["wsgi.url_scheme"] == "https");
  // Only the configured headers count now.
  CHECK(environ_for(kiln.port(), "X-Forwarded-Proto: https\r\n")["wsgi.url_scheme"] == "http");
}

TEST_CASE("a PROXY v1 header from a trusted balancer names the client", "[proxy]") {
  auto kiln = probe({"--proxy-protocol"});
  http_client client(kiln.port());
  auto seen =
      environ_for(client, "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n" + get("/environ"));
  CHECK(seen["REMOTE_ADDR"] == "203.0.113.7");
  CHECK(seen["REMOTE_PORT"] == "56324");
  CHECK(kiln.wait_for_output("\n203.0.113.7 - - ["));
  // The next request on the connection has no header of its own, and the same client.
  CHECK(environ_for(client, get("/environ"))["REMOTE_ADDR"] == "203.0.113.7");

  // In pieces, as a slow balancer might send it.
  http_client pieces(kiln.port());
  REQUIRE(pieces.send("PROXY TCP6 2001:db8::7 "));
  CHECK_FALSE(pieces.wait_for_bytes(1, 200ms));  // Nothing is answered before the rest.
  auto six = environ_for(pieces, "2001:db8::1 443 8443\r\n" + get("/environ"));
  CHECK(six["REMOTE_ADDR"] == "2001:db8::7");
  CHECK(six["REMOTE_PORT"] == "443");

  // UNKNOWN: the balancer's own connection; the peer stays.
  http_client unknown(kiln.port());
  CHECK(environ_for(unknown, "PROXY UNKNOWN\r\n" + get("/environ"))["REMOTE_ADDR"] == "127.0.0.1");
}

TEST_CASE("a PROXY v2 header from a trusted balancer names the client", "[proxy]") {
  auto kiln = probe({"--proxy-protocol"});
  http_client client(kiln.port());
  auto seen = environ_for(client, proxy_v2() + get("/environ"));
  CHECK(seen["REMOTE_ADDR"] == "203.0.113.7");
  CHECK(seen["REMOTE_PORT"] == "56324");
  // LOCAL: a health check from the balancer itself.
  std::string local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
  http_client health(kiln.port());
  REQUIRE(health.send(local + get("/healthz")));
  auto answer = health.read_response();
  REQUIRE(answer);
  CHECK(answer->status == 200);
}

TEST_CASE("a missing or malformed PROXY header closes the connection, answering nothing",
          "[proxy]") {
  auto kiln = probe({"--proxy-protocol", "--log-level", "debug"});
  for (std::string bytes :
       {get("/environ"), std::string("PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n"),
        std::string("PROXY TCP4 203.0.113.300 10.0.0.1 1 2\r\n") + get("/"),
        std::string("\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c", 16) + std::string(12, '\0'),
        std::string(600, 'P')}) {
    INFO(bytes);
    http_client client(kiln.port());
    REQUIRE(client.send(bytes));
    CHECK(client.read_until_closed().empty());
  }
  CHECK(kiln.wait_for_output("a connection without a valid PROXY header: closed\n"));
  // The worker serves on.
  http_client client(kiln.port());
  CHECK(environ_for(client, proxy_v2() + get("/environ"))["REMOTE_ADDR"] == "203.0.113.7");
}

TEST_CASE("a PROXY header from a peer proxy_allow_ips does not trust is not believed", "[proxy]") {
  auto kiln =
      probe({"--proxy-protocol", "--proxy-allow-ips", "10.0.0.0/8", "--log-level", "debug"});
  http_client client(kiln.port());
  REQUIRE(client.send("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n" + get("/environ")));
  CHECK(client.read_until_closed().empty());
  CHECK(kiln.wait_for_output(
      "a connection from 127.0.0.1, which proxy_allow_ips does not trust: closed\n"));
  CHECK(kiln.output().find("203.0.113.7") == std::string::npos);
}

TEST_CASE("behind a PROXY header, X-Forwarded-For counts only from a trusted client", "[proxy]") {
  // The balancer says the client is 203.0.113.7, which forwarded_allow_ips does not trust: its
  // own X-Forwarded-For and scheme headers are its word only.
  auto kiln = probe({"--proxy-protocol"});
  http_client client(kiln.port());
  auto seen = environ_for(
      client, "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n" + get("/environ", proxy_headers));
  CHECK(seen["REMOTE_ADDR"] == "203.0.113.7");
  CHECK(seen["wsgi.url_scheme"] == "http");
}

}  // namespace kiln::test
