// Checks a screenshot written by `kvlab --screenshot`: expected size, not blank, and (optionally)
// enough pixels of the KV-grid state colours. Used by the GUI smoke test; not part of the app.
#include <stb_image.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: png_check FILE WIDTH HEIGHT [cached] [written] [recomputed]\n");
    return 2;
  }
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load(argv[1], &w, &h, &n, 3);
  if (!px) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  int failures = 0;
  if (w != std::atoi(argv[2]) || h != std::atoi(argv[3])) {
    std::fprintf(stderr, "size %dx%d, expected %sx%s\n", w, h, argv[2], argv[3]);
    ++failures;
  }
  struct Want { const char* name; int r, g, b; long count; };
  Want colours[] = {{"cached", 59, 130, 246, 0}, {"written", 34, 197, 94, 0}, {"recomputed", 249, 115, 22, 0}};
  std::set<int> distinct;
  for (long i = 0; i < static_cast<long>(w) * h; ++i) {
    const unsigned char* p = px + i * 3;
    if (distinct.size() < 5000) distinct.insert(p[0] << 16 | p[1] << 8 | p[2]);
    for (Want& c : colours)
      if (std::abs(p[0] - c.r) <= 4 && std::abs(p[1] - c.g) <= 4 && std::abs(p[2] - c.b) <= 4) ++c.count;
  }
  stbi_image_free(px);
  if (distinct.size() < 50) {
    std::fprintf(stderr, "the image looks blank (%zu colours)\n", distinct.size());
    ++failures;
  }
  for (int a = 4; a < argc; ++a)
    for (const Want& c : colours)
      if (std::strcmp(argv[a], c.name) == 0 && c.count < 200) {
        std::fprintf(stderr, "too few '%s' grid pixels: %ld\n", c.name, c.count);
        ++failures;
      }
  std::printf("%s: %dx%d, %zu+ colours, cached %ld, written %ld, recomputed %ld pixels\n", argv[1], w, h,
              distinct.size(), colours[0].count, colours[1].count, colours[2].count);
  return failures ? 1 : 0;
}
