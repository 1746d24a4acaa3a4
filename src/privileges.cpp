#include "privileges.hpp"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <grp.h>
#include <pwd.h>
#include <system_error>
#include <unistd.h>

namespace kiln {
namespace {

// A user or group written as a number; nullopt when text is not one that fits an ID.
std::optional<std::uint32_t> numeric_id(const std::string& text) {
  std::uint32_t id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return id;
}

}  // namespace

std::optional<user_account> find_user(const std::string& name_or_id) {
  if (const passwd* found = getpwnam(name_or_id.c_str())) {
    return user_account{found->pw_uid, found->pw_gid, found->pw_name};
  }
  auto id = numeric_id(name_or_id);
  if (!id) return std::nullopt;
  return user_account{static_cast<uid_t>(*id), std::nullopt, {}};
}

std::optional<gid_t> find_group(const std::string& name_or_id) {
  if (const group* found = getgrnam(name_or_id.c_str())) return found->gr_gid;
  auto id = numeric_id(name_or_id);
  if (!id) return std::nullopt;
  return static_cast<gid_t>(*id);
}

void drop_privileges(const std::string& user, const std::string& group) {
  if ((user.empty() && group.empty()) || geteuid() != 0) return;
  gid_t gid = getgid();
  uid_t uid = getuid();
  std::string user_name;
  if (!user.empty()) {
    if (auto found = find_user(user)) {
      uid = found->uid;
      user_name = found->name;
      if (found->primary_group) gid = *found->primary_group;
    }
  }
  if (!group.empty()) {
    if (auto found = find_group(group)) gid = *found;
  }
  int status = !user_name.empty() ? initgroups(user_name.c_str(), gid) : setgroups(0, nullptr);
  if (status != 0) throw std::system_error(errno, std::generic_category(), "setgroups");
  if (setgid(gid) != 0) throw std::system_error(errno, std::generic_category(), "setgid");
  if (setuid(uid) != 0) throw std::system_error(errno, std::generic_category(), "setuid");
}

}  // namespace kiln
