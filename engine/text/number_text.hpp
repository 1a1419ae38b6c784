// Numbers written for people: 75497472 -> "75,497,472". Shared by the window and kvlab-cli, which
// both show counts and bytes with their digits grouped. Formatting only.
#pragma once
#include <cstdio>
#include <string>

namespace kvlab {

inline std::string with_commas(long long v) {
  std::string s = std::to_string(v < 0 ? -static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v));
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

// A duration in the unit that suits it: 1.234 s, 12.345 ms, 3.210 us, 40.0 ns (`digits` after the
// point; ns get one less).
inline std::string duration_text(double seconds, int digits = 3) {
  char buf[32];
  const int d = digits, dn = digits > 0 ? digits - 1 : 0;
  if (seconds >= 1) std::snprintf(buf, sizeof buf, "%.*f s", d, seconds);
  else if (seconds >= 1e-3) std::snprintf(buf, sizeof buf, "%.*f ms", d, seconds * 1e3);
  else if (seconds >= 1e-6) std::snprintf(buf, sizeof buf, "%.*f us", d, seconds * 1e6);
  else std::snprintf(buf, sizeof buf, "%.*f ns", dn, seconds * 1e9);
  return buf;
}

}  // namespace kvlab
