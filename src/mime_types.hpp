#pragma once

#include <string_view>

namespace kiln {

// The Content-Type for a file name, chosen by its extension; "application/octet-stream" when the
// extension is unknown. Text types carry "; charset=utf-8".
std::string_view mime_type_for(std::string_view file_name) noexcept;

}  // namespace kiln
