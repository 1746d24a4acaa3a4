#include "cli.hpp"
#include "process_title.hpp"

int main(int argc, char** argv) {
  kiln::init_process_title(argc, argv);
  return kiln::run_command_line(argc, argv);
}
