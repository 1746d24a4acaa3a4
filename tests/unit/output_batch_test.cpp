#include "output_batch.hpp"

#include <memory>
#include <string>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

std::string joined(const std::vector<uv_buf_t>& buffers) {
  std::string text;
  for (const auto& buffer : buffers)
    text.append(buffer.base, buffer.len);
  return text;
}

// A batch of "head1" + shared "BODY-ONE" + "head2" + shared "BODY-TWO" + "tail".
struct example {
  output_batch batch;
  output_batch::shared_bytes one = std::make_shared<const std::string>("BODY-ONE");
  output_batch::shared_bytes two = std::make_shared<const std::string>("BODY-TWO");
  example() {
    batch.text().append("head1");
    batch.append_shared(one, *one);
    batch.text().append("head2");
    batch.append_shared(two, *two);
    batch.text().append("tail");
  }
};

}  // namespace

TEST_CASE("a batch's buffers keep copied and shared bytes in order", "[output_batch]") {
  example e;
  CHECK(e.batch.size() == 30);
  CHECK(joined(e.batch.buffers()) == "head1BODY-ONEhead2BODY-TWOtail");
  CHECK(e.batch.buffers().size() == 5);
  // Shared bytes are referenced where they live, not copied.
  CHECK(e.batch.buffers()[1].base == e.one->data());
}

TEST_CASE("the rest of a batch after a partial write", "[output_batch]") {
  example e;
  const std::string whole = "head1BODY-ONEhead2BODY-TWOtail";
  for (std::size_t written = 0; written <= whole.size(); ++written) {
    INFO("written " << written);
    auto rest = e.batch.rest_from(written);
    CHECK(joined(rest.buffers) == whole.substr(written));
    for (const auto& buffer : rest.buffers)
      CHECK(buffer.len > 0);
  }
  // Past the first body, only the second is kept alive; shared bytes are still not copied.
  auto rest = e.batch.rest_from(15);
  REQUIRE(rest.owners.size() == 1);
  CHECK(rest.owners[0] == e.two);
  CHECK(rest.buffers[1].base == e.two->data());
}

TEST_CASE("the rest survives the batch being cleared and reused", "[output_batch]") {
  example e;
  auto rest = e.batch.rest_from(3);
  e.batch.clear();
  e.batch.text().append("something else entirely");
  e.one.reset();
  e.two.reset();
  CHECK(joined(rest.buffers) == "d1BODY-ONEhead2BODY-TWOtail");
  CHECK(e.batch.empty() == false);
}

}  // namespace kiln::test
