#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace kiln {

// A user the user setting names, by name or by number.
struct user_account {
  uid_t uid = 0;
  std::optional<gid_t> primary_group;  // Known when the user is in the user database.
  std::string name;                    // Empty for a number that names nobody there.
};

// The user named, or written as a number that fits an ID; nullopt when neither.
std::optional<user_account> find_user(const std::string& name_or_id);
// The group's ID, by name or by number; nullopt when neither.
std::optional<gid_t> find_group(const std::string& name_or_id);

// In a worker of a master started as root: switches to the user and group settings (the
// user's primary group when no group is given), with the user's supplementary groups. Throws
// std::system_error. Configuration checking has made sure that both exist.
void drop_privileges(const std::string& user, const std::string& group);

}  // namespace kiln
