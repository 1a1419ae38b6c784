// Plot widget implementation: range finding, 1-2-5 tick steps, log10 axis, dashed lines, legend and
// a hover readout that lists each series' nearest point. One function per part of the picture.
#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kvlab::gui {

std::string short_number(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1e12) std::snprintf(buf, sizeof buf, "%.3gT", v / 1e12);
  else if (a >= 1e9) std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
  else if (a >= 1e6) std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  else if (a >= 1e4) std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

double nice_step(double range, int target_ticks) {
  const double raw = range / std::max(1, target_ticks);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1.0 : r < 3.5 ? 2.0 : r < 7.5 ? 5.0 : 10.0) * mag;
}

void dashed_line(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col, float thickness) {
  const float dx = b.x - a.x, dy = b.y - a.y, len = std::sqrt(dx * dx + dy * dy);
  const float dash = 7.0f;
  for (float t = 0; t < len; t += 2 * dash) {
    const float t1 = std::min(len, t + dash);
    dl->AddLine(ImVec2(a.x + dx * t / len, a.y + dy * t / len), ImVec2(a.x + dx * t1 / len, a.y + dy * t1 / len), col,
                thickness);
  }
}

// Where things go: the data range and the plot area on screen, with the mappings between them.
struct Frame {
  double x0 = 0, x1 = 1, ly0 = 0, ly1 = 1;  // x range; y range (log10 of it on a log axis)
  bool log_y = false, empty = true;
  float left = 0, right = 0, top = 0, bottom = 0, fh = 13;
  bool side_legend = false;  // a short plot: the legend in a column on the right, the x title beside the axis
  double fy(double v) const { return log_y ? std::log10(std::max(v, 1e-300)) : v; }
  float px(double x) const { return left + static_cast<float>((x - x0) / (x1 - x0)) * (right - left); }
  float py(double y) const { return bottom - static_cast<float>((fy(y) - ly0) / (ly1 - ly0)) * (bottom - top); }
  bool usable(double y) const { return std::isfinite(y) && (!log_y || y > 0); }
};

void find_range(Frame& f, const PlotOptions& o, const std::vector<PlotSeries>& series) {
  f.log_y = o.log_y;
  double x0 = o.x_min_hint, x1 = -kInf, y0 = kInf, y1 = -kInf;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!f.usable(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  for (double m : o.x_markers) x1 = std::max(x1, m);
  f.empty = !(x1 > -kInf) || !(y1 > -kInf);
  if (f.empty) { x1 = x0 + 1; y0 = 0; y1 = 1; }
  if (x1 <= x0) x1 = x0 + 1;
  f.x0 = x0;
  f.x1 = x1;
  f.ly0 = f.log_y ? std::floor(f.fy(y0)) : std::min(0.0, y0);
  f.ly1 = f.log_y ? std::ceil(f.fy(y1)) : y1 * 1.05;
  if (f.ly1 <= f.ly0) f.ly1 = f.ly0 + 1;
}

float legend_entry_width(const PlotSeries& s, float fh) { return fh * 2.0f + ImGui::CalcTextSize(s.label.c_str()).x + fh; }

// The legend takes one row above the plot area (never covering data), more when narrow.
int legend_rows(const std::vector<PlotSeries>& series, float width, float fh) {
  int rows = 1;
  float x = fh * 4.2f;
  for (const auto& s : series) {
    if (!s.in_legend) continue;
    const float w = legend_entry_width(s, fh);
    if (x + w > width && x > fh * 4.2f) { ++rows; x = fh * 4.2f; }
    x += w;
  }
  return rows;
}

void draw_y_ticks(ImDrawList* dl, const Frame& f, ImU32 grid_col, ImU32 dim_col) {
  auto tick = [&](float y, double value) {
    dl->AddLine(ImVec2(f.left, y), ImVec2(f.right, y), grid_col);
    const std::string t = short_number(value);
    dl->AddText(ImVec2(f.left - ImGui::CalcTextSize(t.c_str()).x - 6, y - f.fh / 2), dim_col, t.c_str());
  };
  if (f.log_y) {
    for (double e = f.ly0; e <= f.ly1 + 1e-9; e += 1.0)
      tick(f.bottom - static_cast<float>((e - f.ly0) / (f.ly1 - f.ly0)) * (f.bottom - f.top), std::pow(10.0, e));
    return;
  }
  const double step = nice_step(f.ly1 - f.ly0, std::max(2, static_cast<int>((f.bottom - f.top) / (f.fh * 2.2f))));
  for (double v = std::ceil(f.ly0 / step) * step; v <= f.ly1 + step * 1e-6; v += step)
    tick(f.py(v), std::fabs(v) < step * 1e-6 ? 0.0 : v);
}

void draw_axes(ImDrawList* dl, const Frame& f, const PlotOptions& o) {
  const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text), dim_col = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const ImU32 grid_col = ImGui::GetColorU32(ImGuiCol_Border, 0.5f);
  dl->AddRectFilled(ImVec2(f.left, f.top), ImVec2(f.right, f.bottom), ImGui::GetColorU32(ImGuiCol_FrameBg, 0.5f));
  draw_y_ticks(dl, f, grid_col, dim_col);
  const double xstep = nice_step(f.x1 - f.x0, std::max(2, static_cast<int>((f.right - f.left) / (f.fh * 5.0f))));
  for (double v = std::ceil(f.x0 / xstep) * xstep; v <= f.x1 + xstep * 1e-6; v += xstep) {
    const float x = f.px(v);
    dl->AddLine(ImVec2(x, f.top), ImVec2(x, f.bottom), grid_col);
    const std::string t = short_number(v);
    dl->AddText(ImVec2(x - ImGui::CalcTextSize(t.c_str()).x / 2, f.bottom + 3), dim_col, t.c_str());
  }
  const ImVec2 xl = ImGui::CalcTextSize(o.x_label.c_str());
  if (f.side_legend) dl->AddText(ImVec2(f.right + f.fh * 0.5f, f.bottom - f.fh * 0.5f), text_col, o.x_label.c_str());
  else dl->AddText(ImVec2((f.left + f.right - xl.x) / 2, f.bottom + f.fh * 1.3f), text_col, o.x_label.c_str());
  // y label: drawn horizontally inside the plot's top-left corner (ImDrawList has no rotated text)
  const std::string yl = o.y_label + (o.log_y ? " (log)" : "");
  dl->AddText(ImVec2(f.left + 6, f.top + 2), dim_col, yl.c_str());
  for (std::size_t i = 0; i < o.x_markers.size(); ++i) {
    const float x = f.px(o.x_markers[i]);
    dashed_line(dl, ImVec2(x, f.top), ImVec2(x, f.bottom), text_col, 1.5f);
    if (i < o.marker_labels.size())
      dl->AddText(ImVec2(x - ImGui::CalcTextSize(o.marker_labels[i].c_str()).x - 4, f.top + f.fh * 1.2f), text_col,
                  o.marker_labels[i].c_str());
  }
}

void draw_series(ImDrawList* dl, const Frame& f, const std::vector<PlotSeries>& series) {
  dl->PushClipRect(ImVec2(f.left, f.top - 2), ImVec2(f.right + 2, f.bottom + 2), true);
  for (const auto& s : series) {
    ImVec2 prev;
    bool have_prev = false;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!f.usable(s.y[i])) { have_prev = false; continue; }
      const ImVec2 p(f.px(s.x[i]), f.py(s.y[i]));
      if (have_prev && s.line) {
        if (s.dashed) dashed_line(dl, prev, p, s.color, s.thickness);
        else dl->AddLine(prev, p, s.color, s.thickness);
      }
      if (s.markers || !s.line || s.x.size() == 1) dl->AddCircleFilled(p, s.thickness + 2.0f, s.color);
      prev = p;
      have_prev = true;
    }
  }
  dl->PopClipRect();
}

// The widest legend entry (the side legend's column width).
float widest_legend_entry(const std::vector<PlotSeries>& series, float fh) {
  float w = 0;
  for (const auto& s : series)
    if (s.in_legend) w = std::max(w, legend_entry_width(s, fh));
  return w;
}

void draw_legend(ImDrawList* dl, const Frame& f, ImVec2 origin, float width, const std::vector<PlotSeries>& series) {
  const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text);
  const float fh = f.fh;
  float lx = f.side_legend ? f.right + fh * 0.5f : f.left, ly = f.side_legend ? f.top : origin.y + fh * 0.2f;
  if (f.side_legend) dl->PushClipRect(ImVec2(lx, f.top), ImVec2(origin.x + width, f.bottom - fh * 0.6f), true);
  for (const auto& s : series) {
    if (!s.in_legend) continue;
    const float w = legend_entry_width(s, fh);
    if (!f.side_legend && lx + w > origin.x + width && lx > f.left) { lx = f.left; ly += fh * 1.25f; }
    if (!s.line) dl->AddCircleFilled(ImVec2(lx + fh * 0.7f, ly + fh / 2), fh * 0.25f, s.color);
    else if (s.dashed) dashed_line(dl, ImVec2(lx, ly + fh / 2), ImVec2(lx + fh * 1.4f, ly + fh / 2), s.color, 2.5f);
    else dl->AddLine(ImVec2(lx, ly + fh / 2), ImVec2(lx + fh * 1.4f, ly + fh / 2), s.color, 3.0f);
    dl->AddText(ImVec2(lx + fh * 1.8f, ly), text_col, s.label.c_str());
    if (f.side_legend) ly += fh * 1.25f;
    else lx += w;
  }
  if (f.side_legend) dl->PopClipRect();
}

void draw_hover(ImDrawList* dl, const Frame& f, const PlotOptions& o, const std::vector<PlotSeries>& series) {
  const float mx = ImGui::GetIO().MousePos.x;
  const double xv = f.x0 + (mx - f.left) / (f.right - f.left) * (f.x1 - f.x0);
  dl->AddLine(ImVec2(mx, f.top), ImVec2(mx, f.bottom), ImGui::GetColorU32(ImGuiCol_TextDisabled));
  ImGui::BeginTooltip();
  ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28.0f);
  ImGui::Text("%s = %s", o.x_label.c_str(), short_number(xv).c_str());
  for (const auto& s : series) {
    std::size_t best = s.x.size();
    double best_d = 1e300;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::fabs(s.x[i] - xv) < best_d && std::isfinite(s.y[i])) { best_d = std::fabs(s.x[i] - xv); best = i; }
    if (best < s.x.size())
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(s.color), "%s: %s at %s", s.label.c_str(),
                         short_number(s.y[best]).c_str(), short_number(s.x[best]).c_str());
  }
  if (!o.hover_note.empty()) ImGui::TextDisabled("%s", o.hover_note.c_str());
  ImGui::PopTextWrapPos();
  ImGui::EndTooltip();
}
}  // namespace

bool draw_plot(const char* id, const PlotOptions& o, const std::vector<PlotSeries>& series) {
  ImGui::PushID(id);
  const float width = ImGui::GetContentRegionAvail().x;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("plot", ImVec2(width, o.height));
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  Frame f;
  f.fh = ImGui::GetFontSize();
  find_range(f, o, series);
  // room for tick labels and axis titles
  f.left = origin.x + f.fh * 4.2f;
  f.right = origin.x + width - f.fh * 0.8f;
  f.top = origin.y + f.fh * (0.4f + 1.25f * static_cast<float>(legend_rows(series, width, f.fh)));
  f.bottom = origin.y + o.height - f.fh * 2.6f;
  // Short and wide (projector text in a small window): legend and x title move to the right, so the
  // data keeps most of the height instead of a strip under two legend rows.
  const float side_w = std::min(widest_legend_entry(series, f.fh) + f.fh * 0.5f, width * 0.5f);
  if (o.height < f.fh * 12.0f && width - side_w > f.fh * 16.0f) {
    f.side_legend = true;
    f.right = origin.x + width - side_w - f.fh * 0.5f;
    f.top = origin.y + f.fh * 0.4f;
    f.bottom = origin.y + o.height - f.fh * 1.5f;
  }
  draw_axes(dl, f, o);
  draw_series(dl, f, series);
  draw_legend(dl, f, origin, width, series);
  if (f.empty) {
    const char* msg = "no data yet: step or play to fill this plot";
    const ImVec2 ts = ImGui::CalcTextSize(msg);
    dl->AddText(ImVec2((f.left + f.right - ts.x) / 2, (f.top + f.bottom - ts.y) / 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), msg);
  }
  if (hovered && !f.empty) draw_hover(dl, f, o, series);
  ImGui::PopID();
  return hovered;
}

}  // namespace kvlab::gui
