#pragma once

#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "listener.hpp"

namespace kiln {

// The binary this process runs, as an absolute path, resolved at start, as USR2 will need it
// later: argv[0] may be relative to a directory kiln has left, or a name found on the PATH.
// Symlinks are kept, so that an upgrade that moves a link runs the new binary.
std::string executable_path();

// USR2: starts binary, with this process's arguments and environment, as a new master that
// inherits the sockets as systemd hands them over (descriptors 3, 4, ... with LISTEN_FDS,
// LISTEN_FDNAMES naming each by its bind setting, and LISTEN_PID). Returns its pid, or 0 when
// it could not be started, which is logged.
pid_t start_new_master(const std::string& binary,
                       const std::vector<std::shared_ptr<listener>>& sockets);

}  // namespace kiln
