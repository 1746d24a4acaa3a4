#include "command_line.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "config_error.hpp"

namespace kiln::test {

TEST_CASE("the command line is parsed into actions and values", "[command_line]") {
  std::vector<const char*> arguments{"-c",
                                     "kiln.toml",
                                     "--check-config",
                                     "--print-config",
                                     "--version",
                                     "-h",
                                     "-w",
                                     "3",
                                     "--keepalive",
                                     "9",
                                     "-t=x",
                                     "--no-reuse-port",
                                     "--settings-markdown"};
  // "-t=x" is not "-t" with a value: only long flags take "=".
  CHECK_THROWS_WITH(parse_command_line(arguments), "flag -t=x: unknown flag");
  arguments.erase(arguments.begin() + 10);
  auto line = parse_command_line(arguments);
  CHECK(line.config_file == "kiln.toml");
  CHECK(line.check_config);
  CHECK(line.print_config);
  CHECK(line.version);
  CHECK(line.help);
  CHECK(line.settings_markdown);
  REQUIRE(line.values.size() == 3);
  CHECK(line.values[0].setting == find_setting("workers"));
  CHECK(line.values[0].text == "3");
  CHECK(line.values[0].flag == "-w");
  CHECK(line.values[1].setting == find_setting("keepalive"));
  CHECK(line.values[1].text == "9");
  CHECK(line.values[1].flag == "--keepalive");
  CHECK(line.values[2].setting == find_setting("reuse_port"));
  CHECK(line.values[2].text == "false");
  CHECK(line.values[2].flag == "--no-reuse-port");

  auto nothing = parse_command_line(std::vector<const char*>{});
  CHECK_FALSE(nothing.help);
  CHECK_FALSE(nothing.version);
  CHECK_FALSE(nothing.check_config);
  CHECK_FALSE(nothing.print_config);
  CHECK(nothing.config_file.empty());
  CHECK(nothing.values.empty());
  CHECK(parse_command_line(std::vector<const char*>{"--help"}).help);
}

TEST_CASE("shell_words splits as a POSIX shell does", "[command_line]") {
  using words = std::vector<std::string>;
  CHECK(shell_words("  -w 3\t--bind  :8000\n", "here") == words{"-w", "3", "--bind", ":8000"});
  CHECK(shell_words(R"(--name 'a b' "c \"d\" $x" e\ f)", "here") ==
        words{"--name", "a b", R"(c "d" $x)", "e f"});
  CHECK(shell_words(R"('it''s' "")", "here") == words{"its", ""});
  CHECK(shell_words("", "here").empty());
  CHECK_THROWS_WITH(shell_words("--name 'a", "GUNICORN_CMD_ARGS"),
                    "GUNICORN_CMD_ARGS: a quote (') is not closed");
  CHECK_THROWS_WITH(shell_words("--name \"a", "GUNICORN_CMD_ARGS"),
                    "GUNICORN_CMD_ARGS: a quote (\") is not closed");
}

}  // namespace kiln::test
