// deploy/kubernetes/: the manifests read with a real YAML parser (Debian's python3-yaml), and
// their numbers checked against what the real kiln makes of the pod's environment, so that the
// invariants between them hold whoever edits a number.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

#include "support/kiln_process.hpp"
#include "support/shell.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

using nlohmann::json;

const std::string manifests = std::string(KILN_SOURCE_DIR) + "/deploy/kubernetes/";

// Every document of a YAML file, as JSON.
std::vector<json> read_yaml(const std::string& file) {
  auto converted = shell(
      "/usr/bin/python3 -c 'import json, sys, yaml; "
      "print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))' " +
      (file.starts_with("/") ? file : manifests + file));
  INFO(converted.output);
  REQUIRE(converted.status == 0);
  return json::parse(converted.output).get<std::vector<json>>();
}

json read_one(const std::string& file, const std::string& kind) {
  auto documents = read_yaml(file);
  REQUIRE(documents.size() == 1);
  CHECK(documents.front()["kind"] == kind);
  return documents.front();
}

// A setting's value as kiln prints it with --print-config: "shutdown_delay = 5  # env ...".
std::string setting(const std::string& printed, const std::string& name) {
  std::smatch match;
  std::regex line("(^|\n)" + name + " = ([^ \n]*)");
  REQUIRE(std::regex_search(printed, match, line));
  return match[2];
}

bool selects(const json& selector, const json& labels) {
  for (const auto& [key, value] : selector.items()) {
    if (!labels.contains(key) || labels[key] != value) return false;
  }
  return !selector.empty();
}

}  // namespace

TEST_CASE("the Deployment's probes, pause and grace period fit kiln's own settings",
          "[kubernetes]") {
  auto deployment = read_one("deployment.yaml", "Deployment");
  const auto& pod = deployment["spec"]["template"]["spec"];
  REQUIRE(pod["containers"].size() == 1);
  const auto& container = pod["containers"][0];
  std::map<std::string, std::string> env;
  for (const auto& variable : container["env"])
    env[variable["name"]] = variable["value"];

  // What kiln makes of the image's config/kiln.toml and the pod's environment.
  auto printed =
      run({"-c", std::string(KILN_SOURCE_DIR) + "/config/kiln.toml", "--print-config"}, env);
  REQUIRE(printed.status == exited_with(0));
  double shutdown_delay = std::stod(setting(printed.output, "shutdown_delay"));
  double graceful_timeout = std::stod(setting(printed.output, "graceful_timeout"));
  INFO("shutdown_delay " << shutdown_delay << ", graceful_timeout " << graceful_timeout);
  CHECK(shutdown_delay > 0);

  // The preStop pause is shutdown_delay; the grace period holds the pause, the delay and
  // graceful_timeout, so that the kubelet never kills a worker finishing a request.
  auto pause = container["lifecycle"]["preStop"]["exec"]["command"];
  REQUIRE(pause.size() == 2);
  CHECK(pause[0] == "sleep");
  CHECK(std::stod(pause[1].get<std::string>()) == shutdown_delay);
  CHECK(pod["terminationGracePeriodSeconds"].get<double>() > 2 * shutdown_delay + graceful_timeout);

  // Readiness notices a stopping kiln (503 from /readyz) within shutdown_delay.
  const auto& ready = container["readinessProbe"];
  CHECK(ready["httpGet"]["path"] == "/readyz");
  CHECK(ready["periodSeconds"].get<double>() * ready["failureThreshold"].get<double>() <=
        shutdown_delay);
  CHECK(container["livenessProbe"]["httpGet"]["path"] == "/healthz");

  // The probes' port is the one PORT makes kiln listen on.
  REQUIRE(container["ports"].size() == 1);
  CHECK(container["ports"][0]["name"] == "http");
  CHECK(ready["httpGet"]["port"] == "http");
  CHECK(container["livenessProbe"]["httpGet"]["port"] == "http");
  CHECK(std::to_string(container["ports"][0]["containerPort"].get<int>()) == env["PORT"]);
  CHECK(setting(printed.output, "bind") == "[\"0.0.0.0:" + env["PORT"] + "\"]");

  // workers = "auto" reads the CPU quota that limits.cpu sets, and nothing overrides it.
  CHECK(env["KILN_WORKERS"] == "auto");
  CHECK(std::regex_search(printed.output, std::regex("\nworkers = \\d+  # env KILN_WORKERS\n")));
  CHECK_FALSE(env.contains("WEB_CONCURRENCY"));
  const auto& resources = container["resources"];
  REQUIRE(resources["limits"].contains("cpu"));
  REQUIRE(resources["requests"].contains("cpu"));

  // A rolling update keeps every serving pod until its replacement is ready.
  CHECK(deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0);

  // The image's numeric user, which runAsNonRoot verifies.
  CHECK(pod["securityContext"]["runAsNonRoot"] == true);
  CHECK(pod["securityContext"]["runAsUser"] == 10001);
  auto dockerfile = lines_of(std::string(KILN_SOURCE_DIR) + "/docker/Dockerfile");
  CHECK(std::count(dockerfile.begin(), dockerfile.end(), "USER 10001:10001") == 3);
}

TEST_CASE("the Service, the disruption budget and the autoscaler select the Deployment's pods",
          "[kubernetes]") {
  auto deployment = read_one("deployment.yaml", "Deployment");
  const auto& labels = deployment["spec"]["template"]["metadata"]["labels"];
  CHECK(selects(deployment["spec"]["selector"]["matchLabels"], labels));
  int replicas = deployment["spec"]["replicas"];

  auto service = read_one("service.yaml", "Service");
  CHECK(selects(service["spec"]["selector"], labels));
  CHECK(service["spec"]["ports"][0]["targetPort"] == "http");
  // A Service named kiln would put KILN_PORT=tcp://... into every pod of the namespace.
  CHECK(service["metadata"]["name"] != "kiln");

  auto budget = read_one("poddisruptionbudget.yaml", "PodDisruptionBudget");
  CHECK(selects(budget["spec"]["selector"]["matchLabels"], labels));
  CHECK(budget["spec"]["maxUnavailable"].get<int>() < replicas);

  auto autoscaler = read_one("horizontalpodautoscaler.yaml", "HorizontalPodAutoscaler");
  CHECK(autoscaler["spec"]["scaleTargetRef"]["kind"] == "Deployment");
  CHECK(autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]);
  CHECK(autoscaler["spec"]["minReplicas"].get<int>() >= replicas);
  CHECK(autoscaler["spec"]["maxReplicas"].get<int>() > autoscaler["spec"]["minReplicas"]);
  // CPU utilization is measured against the request: there must be one.
  CHECK(autoscaler["spec"]["metrics"][0]["resource"]["name"] == "cpu");
}

TEST_CASE("docker/compose.yaml's grace period and ports fit kiln's settings", "[kubernetes]") {
  auto documents = read_yaml(std::string(KILN_SOURCE_DIR) + "/docker/compose.yaml");
  REQUIRE(documents.size() == 1);
  const auto& web = documents[0]["services"]["web"];
  std::map<std::string, std::string> env;
  for (const auto& [name, value] : web["environment"].items())
    env[name] = value.get<std::string>();
  auto printed =
      run({"-c", std::string(KILN_SOURCE_DIR) + "/config/kiln.toml", "--print-config"}, env);
  REQUIRE(printed.status == exited_with(0));
  double graceful_timeout = std::stod(setting(printed.output, "graceful_timeout"));
  double shutdown_delay = std::stod(setting(printed.output, "shutdown_delay"));
  std::string grace = web["stop_grace_period"];
  REQUIRE(grace.ends_with("s"));
  CHECK(std::stod(grace) > graceful_timeout + shutdown_delay);
  CHECK(web["init"] == true);  // An init in front of the master, as podman run --init.
  // The site's port is published; the metrics' only to the host itself.
  std::vector<std::string> ports = web["ports"].get<std::vector<std::string>>();
  CHECK(std::count(ports.begin(), ports.end(), env["PORT"] + ":" + env["PORT"]) == 1);
  std::string metrics = setting(printed.output, "metrics_bind");
  REQUIRE(metrics == "\"0.0.0.0:9100\"");
  CHECK(std::count(ports.begin(), ports.end(), "127.0.0.1:9100:9100") == 1);
}

}  // namespace kiln::test
