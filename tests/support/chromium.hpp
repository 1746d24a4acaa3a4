#pragma once

#include <chrono>
#include <string>

namespace kiln::test {

using namespace std::chrono_literals;

// Debian's Chromium, run headless for a page test.
inline constexpr const char* chromium_path = "/usr/bin/chromium";

// Chromium starts slowly on a loaded machine, and slower still beside sanitized builds.
inline constexpr std::chrono::milliseconds chromium_patience = 120s;

// Fails the test (never skips it, so that CI cannot pass without it) when Chromium is missing.
void require_chromium();

// Loads url in headless Chromium, lets its scripts and fetches run for virtual_time (virtual
// time runs ahead while nothing is pending), and returns the DOM as Chromium serialises it
// then. Each load gets a fresh profile, so that nothing cached by one answers for another.
std::string dump_dom(const std::string& url, std::chrono::milliseconds virtual_time = 10s);

// The same, writing a PNG of the page as a window of width by height shows it to png_path.
void screenshot(const std::string& url, const std::string& png_path, int width, int height,
                std::chrono::milliseconds virtual_time = 10s);

// A file's bytes.
std::string read_file(const std::string& path);

}  // namespace kiln::test
