#pragma once

#include <span>
#include <string_view>

// What kiln knows of gunicorn beyond the settings they share (the registry says which those are
// and what gunicorn calls them): the settings of gunicorn's that kiln does without, and the
// hooks of its config file.
namespace kiln {

struct gunicorn_only_setting {
  std::string_view name;    // As gunicorn's config file writes it: "worker_tmp_dir".
  std::string_view advice;  // What a kiln user does instead.
};

// gunicorn settings kiln does not implement. One in a gunicorn config file is a warning line,
// not an error: the server still starts.
std::span<const gunicorn_only_setting> gunicorn_only_settings() noexcept;
const gunicorn_only_setting* find_gunicorn_only_setting(std::string_view name) noexcept;

// The server hooks a gunicorn config file may define, in the order they are called.
std::span<const std::string_view> gunicorn_hooks() noexcept;
bool is_gunicorn_hook(std::string_view name) noexcept;

}  // namespace kiln
