#include "cli.hpp"

#include <csignal>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "worker.hpp"

namespace kiln {
namespace {

constexpr int exit_failure = 1;
constexpr int exit_bad_config = 2;

// Checks what the registry's types cannot: that addresses parse and directories exist.
void validate(const configuration& config) {
  for (const auto& text : config.values.bind) {
    try {
      parse_listen_address(text);
    } catch (const std::invalid_argument& error) {
      throw config_error(fmt::format("{}: bind {}", config.origin("bind"), error.what()));
    }
  }
  const auto& root = config.values.static_root;
  struct stat status {};
  if (!root.empty() && (stat(root.c_str(), &status) != 0 || !S_ISDIR(status.st_mode))) {
    throw config_error(fmt::format("{}: static_root \"{}\" is not a directory",
                                   config.origin("static_root"), root));
  }
}

int serve(const configuration& config) {
  // A client that disconnects must cost a failed write, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  const settings& values = config.values;
  listen_options options{static_cast<int>(values.backlog), values.reuse_port};
  std::vector<listener> listeners;
  std::vector<int> fds;
  for (const auto& text : values.bind) {
    listeners.push_back(listener::open(parse_listen_address(text), options));
    fds.push_back(listeners.back().fd());
    spdlog::info("Listening at: {} ({})", listeners.back().url(), getpid());
  }
  worker server(values, fds);
  spdlog::info("Booting worker with pid: {}", getpid());
  return server.run();
}

}  // namespace

int run_command_line(int argc, const char* const* argv) {
  try {
    auto line = parse_command_line(std::span(argv + 1, static_cast<std::size_t>(argc - 1)));
    if (line.help) {
      std::fputs(help_text().c_str(), stdout);
      return 0;
    }
    if (line.version) {
      std::printf("kiln %s\n", KILN_VERSION);
      return 0;
    }
    if (line.settings_markdown) {
      std::fputs(settings_markdown().c_str(), stdout);
      return 0;
    }
    auto config = load_configuration(line, process_environment());
    validate(config);
    if (line.print_config) {
      std::fputs(describe(config).c_str(), stdout);
      return 0;
    }
    if (line.check_config) {
      std::printf("kiln: the configuration is valid%s\n",
                  config.file.empty() ? "" : fmt::format(" ({})", config.file).c_str());
      return 0;
    }
    init_logging(config.values.log_level);
    return serve(config);
  } catch (const config_error& error) {
    std::fprintf(stderr, "kiln: %s\n", error.what());
    return exit_bad_config;
  } catch (const std::exception& error) {
    // Start-up failures: a socket that cannot be bound, a directory that cannot be opened.
    std::fprintf(stderr, "kiln: %s\n", error.what());
    return exit_failure;
  }
}

}  // namespace kiln
