#include "timeout_queue.hpp"

#include <vector>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

// What a connection is to a queue: something with a link in it.
struct waiter {
  int id;
  timeout_link link;
};

std::vector<int> expired(timeout_queue& queue, std::uint64_t now_ms, std::vector<waiter>& waiters) {
  std::vector<int> ids;
  while (timeout_link* link = queue.pop_expired(now_ms)) {
    for (auto& w : waiters) {
      if (&w.link == link) ids.push_back(w.id);
    }
  }
  return ids;
}

}  // namespace

TEST_CASE("waiters expire in the order they were armed, once their deadline has passed",
          "[timeout_queue]") {
  timeout_queue queue(100);
  std::vector<waiter> waiters(3);
  for (int i = 0; i < 3; ++i)
    waiters[i].id = i;
  CHECK(queue.empty());
  CHECK(queue.front() == nullptr);
  CHECK(queue.arm(waiters[0].link, 1000) == 1100);
  CHECK(queue.arm(waiters[1].link, 1010) == 1110);
  CHECK(queue.arm(waiters[2].link, 1020) == 1120);
  CHECK(queue.size() == 3);
  CHECK(waiters[1].link.queue() == &queue);
  CHECK(waiters[1].link.deadline() == 1110);
  CHECK(queue.front() == &waiters[0].link);
  CHECK(queue.next(waiters[0].link) == &waiters[1].link);
  CHECK(queue.next(waiters[2].link) == nullptr);

  CHECK(expired(queue, 1099, waiters).empty());
  CHECK(expired(queue, 1110, waiters) == std::vector<int>{0, 1});
  CHECK(queue.size() == 1);
  CHECK(waiters[0].link.queue() == nullptr);
  CHECK(expired(queue, 5000, waiters) == std::vector<int>{2});
  CHECK(queue.empty());
}

TEST_CASE("re-arming moves a waiter to the back, unlinking takes it out", "[timeout_queue]") {
  timeout_queue queue(50);
  std::vector<waiter> waiters(3);
  for (int i = 0; i < 3; ++i) {
    waiters[i].id = i;
    queue.arm(waiters[i].link, 0);
  }
  queue.arm(waiters[0].link, 10);  // Activity on the first: it waits anew.
  waiters[1].link.unlink();        // The second is done.
  waiters[1].link.unlink();        // Twice is harmless.
  CHECK(queue.size() == 2);
  CHECK(waiters[1].link.queue() == nullptr);
  CHECK(expired(queue, 50, waiters) == std::vector<int>{2});
  CHECK(expired(queue, 60, waiters) == std::vector<int>{0});
  CHECK(queue.empty());
}

TEST_CASE("a waiter moves between queues, and leaves its queue when it is destroyed",
          "[timeout_queue]") {
  timeout_queue short_wait(10);
  timeout_queue long_wait(1000);
  waiter moving{1, {}};
  short_wait.arm(moving.link, 0);
  long_wait.arm(moving.link, 0);  // A connection going from its head to keep-alive, say.
  CHECK(short_wait.empty());
  CHECK(short_wait.size() == 0);
  CHECK(long_wait.size() == 1);
  CHECK(moving.link.queue() == &long_wait);
  CHECK(moving.link.deadline() == 1000);
  {
    waiter brief{2, {}};
    long_wait.arm(brief.link, 5);
    CHECK(long_wait.next(moving.link) == &brief.link);
  }
  CHECK(long_wait.next(moving.link) == nullptr);
  CHECK(long_wait.front() == &moving.link);
}

TEST_CASE("a queue destroyed with waiters in it leaves them unlinked", "[timeout_queue]") {
  waiter survivor{1, {}};
  {
    timeout_queue queue(10);
    queue.arm(survivor.link, 0);
  }
  CHECK(survivor.link.queue() == nullptr);
  survivor.link.unlink();
}

}  // namespace kiln::test
