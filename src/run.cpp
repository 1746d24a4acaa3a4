#include "run.hpp"

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

#include "arbiter.hpp"
#include "config.hpp"
#include "log.hpp"
#include "process_title.hpp"
#include "python/interpreter.hpp"
#include "settings_text.hpp"

namespace kiln {
namespace {

constexpr int exit_failure = 1;
constexpr int exit_bad_config = 2;

}  // namespace

int run(const app& application, int argc, char** argv) {
  init_process_title(argc, argv);
  return run_command_line(argc, argv, application);
}

int run_command_line(int argc, const char* const* argv, const app& application) {
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
    if (line.print_config || line.check_config) {
      for (const auto& warning : config.warnings)
        std::fprintf(stderr, "kiln: warning: %s\n", warning.c_str());
    }
    if (line.print_config) {
      std::fputs(describe(config).c_str(), stdout);
      return 0;
    }
    if (line.check_config) {
      // As gunicorn's --check-config does, the app is loaded too: a deploy can find out now.
      if (!config.values.wsgi_app.empty()) {
        try {
          if (!config.values.chdir.empty() && ::chdir(config.values.chdir.c_str()) != 0) {
            throw python::app_load_error("chdir to " + config.values.chdir + ": " +
                                         errno_text(errno));
          }
          python::start_interpreter(config.values);
          python::load_app(config.values);
        } catch (const python::app_load_error& error) {
          std::fprintf(stderr, "kiln: %s\n", error.what());
          return python::app_load_failed;
        }
      }
      std::printf("kiln: the configuration is valid%s%s\n",
                  config.file.empty() ? "" : fmt::format(" ({})", config.file).c_str(),
                  config.values.wsgi_app.empty()
                      ? ""
                      : fmt::format(", and the app {} loads", config.values.wsgi_app).c_str());
      return 0;
    }
    init_logging(config.values.log_level, config.values.error_log, config.values.log_color,
                 config.values.error_log_format);
    arbiter master(std::move(line), std::move(config), application);
    return master.run();
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
