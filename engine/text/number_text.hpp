// Numbers written for people: 75497472 -> "75,497,472". Shared by the window and kvlab-cli, which
// both show counts and bytes with their digits grouped. Formatting only.
#pragma once
#include <string>

namespace kvlab {

inline std::string with_commas(long long v) {
  std::string s = std::to_string(v < 0 ? -static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v));
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

}  // namespace kvlab
