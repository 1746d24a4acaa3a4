#include "privileges.hpp"

#include <pwd.h>

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("a user is found by name or by number", "[privileges]") {
  auto root = find_user("root");
  REQUIRE(root);
  CHECK(root->uid == 0);
  CHECK(root->name == "root");
  CHECK(root->primary_group == 0u);
  // A number names a user whether or not the user database knows it, as in a container.
  auto numeric = find_user("10001");
  REQUIRE(numeric);
  CHECK(numeric->uid == 10001u);
  if (getpwuid(10001) == nullptr) CHECK(numeric->name.empty());
  CHECK_FALSE(find_user("no-such-user-here"));
  CHECK_FALSE(find_user("-1"));
  CHECK_FALSE(find_user("99999999999"));  // Too big for an ID.
  CHECK_FALSE(find_user(""));
}

TEST_CASE("a group is found by name or by number", "[privileges]") {
  CHECK(find_group("root") == 0u);
  CHECK(find_group("10001") == 10001u);
  CHECK_FALSE(find_group("no-such-group-here"));
  CHECK_FALSE(find_group("12ab"));
}

TEST_CASE("without user and group, or not as root, nothing changes", "[privileges]") {
  uid_t uid = getuid();
  drop_privileges("", "");
  CHECK(getuid() == uid);
}

}  // namespace kiln::test
