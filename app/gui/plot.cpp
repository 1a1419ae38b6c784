// Plot widget implementation: range finding, 1-2-5 tick steps, log10 axis, dashed lines, legend and
// a hover readout that lists each series' nearest point.
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
}  // namespace

bool draw_plot(const char* id, const PlotOptions& o, const std::vector<PlotSeries>& series) {
  ImGui::PushID(id);
  const float width = ImGui::GetContentRegionAvail().x;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 size(width, o.height);
  ImGui::InvisibleButton("plot", size);
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 dim_col = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const ImU32 grid_col = ImGui::GetColorU32(ImGuiCol_Border, 0.5f);
  const float fh = ImGui::GetFontSize();

  // data range
  double x0 = o.x_min_hint, x1 = -std::numeric_limits<double>::infinity();
  double y0 = std::numeric_limits<double>::infinity(), y1 = -std::numeric_limits<double>::infinity();
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (o.log_y && s.y[i] <= 0)) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  for (double m : o.x_markers) x1 = std::max(x1, m);
  const bool empty = !(x1 > -std::numeric_limits<double>::infinity()) || !(y1 > -std::numeric_limits<double>::infinity());
  if (empty) { x1 = x0 + 1; y0 = 0; y1 = 1; }
  if (x1 <= x0) x1 = x0 + 1;
  auto fy = [&](double v) { return o.log_y ? std::log10(std::max(v, 1e-300)) : v; };
  double ly0 = o.log_y ? std::floor(fy(y0)) : std::min(0.0, y0);
  double ly1 = o.log_y ? std::ceil(fy(y1)) : y1 * 1.05;
  if (ly1 <= ly0) ly1 = ly0 + 1;

  // plot area leaves room for tick labels and axis titles
  const float left = origin.x + fh * 4.2f, right = origin.x + size.x - fh * 0.8f;
  // legend: one row of entries above the plot area (never covering data); wraps if narrow
  float legend_rows = 1;
  {
    float x = fh * 4.2f;
    for (const auto& s : series) {
      const float w = fh * 2.0f + ImGui::CalcTextSize(s.label.c_str()).x + fh;
      if (x + w > size.x && x > fh * 4.2f) { legend_rows += 1; x = fh * 4.2f; }
      x += w;
    }
  }
  const float top = origin.y + fh * (0.4f + 1.25f * legend_rows), bottom = origin.y + size.y - fh * 2.6f;
  auto px = [&](double x) { return left + static_cast<float>((x - x0) / (x1 - x0)) * (right - left); };
  auto py = [&](double y) { return bottom - static_cast<float>((fy(y) - ly0) / (ly1 - ly0)) * (bottom - top); };
  dl->AddRectFilled(ImVec2(left, top), ImVec2(right, bottom), ImGui::GetColorU32(ImGuiCol_FrameBg, 0.5f));

  // y ticks
  char buf[48];
  if (o.log_y) {
    for (double e = ly0; e <= ly1 + 1e-9; e += 1.0) {
      const float y = bottom - static_cast<float>((e - ly0) / (ly1 - ly0)) * (bottom - top);
      dl->AddLine(ImVec2(left, y), ImVec2(right, y), grid_col);
      const std::string t = short_number(std::pow(10.0, e));
      dl->AddText(ImVec2(left - ImGui::CalcTextSize(t.c_str()).x - 6, y - fh / 2), dim_col, t.c_str());
    }
  } else {
    const double step = nice_step(ly1 - ly0, std::max(2, static_cast<int>((bottom - top) / (fh * 2.2f))));
    for (double v = std::ceil(ly0 / step) * step; v <= ly1 + step * 1e-6; v += step) {
      const float y = py(v);
      dl->AddLine(ImVec2(left, y), ImVec2(right, y), grid_col);
      const std::string t = short_number(std::fabs(v) < step * 1e-6 ? 0.0 : v);
      dl->AddText(ImVec2(left - ImGui::CalcTextSize(t.c_str()).x - 6, y - fh / 2), dim_col, t.c_str());
    }
  }
  // x ticks
  const double xstep = nice_step(x1 - x0, std::max(2, static_cast<int>((right - left) / (fh * 5.0f))));
  for (double v = std::ceil(x0 / xstep) * xstep; v <= x1 + xstep * 1e-6; v += xstep) {
    const float x = px(v);
    dl->AddLine(ImVec2(x, top), ImVec2(x, bottom), grid_col);
    const std::string t = short_number(v);
    dl->AddText(ImVec2(x - ImGui::CalcTextSize(t.c_str()).x / 2, bottom + 3), dim_col, t.c_str());
  }
  // axis titles
  const ImVec2 xl = ImGui::CalcTextSize(o.x_label.c_str());
  dl->AddText(ImVec2((left + right - xl.x) / 2, bottom + fh * 1.3f), text_col, o.x_label.c_str());
  std::snprintf(buf, sizeof buf, "%s%s", o.y_label.c_str(), o.log_y ? " (log)" : "");
  // y label: drawn horizontally above the axis (ImDrawList has no rotated text)
  dl->AddText(ImVec2(left + 6, top + 2), dim_col, buf);

  // markers
  for (std::size_t i = 0; i < o.x_markers.size(); ++i) {
    const float x = px(o.x_markers[i]);
    dashed_line(dl, ImVec2(x, top), ImVec2(x, bottom), text_col, 1.5f);
    if (i < o.marker_labels.size()) dl->AddText(ImVec2(x - ImGui::CalcTextSize(o.marker_labels[i].c_str()).x - 4, top + fh * 1.2f), text_col, o.marker_labels[i].c_str());
  }

  // series
  dl->PushClipRect(ImVec2(left, top - 2), ImVec2(right + 2, bottom + 2), true);
  for (const auto& s : series) {
    ImVec2 prev;
    bool have_prev = false;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (o.log_y && s.y[i] <= 0)) { have_prev = false; continue; }
      const ImVec2 p(px(s.x[i]), py(s.y[i]));
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

  // legend entries, left to right above the plot
  {
    float lx = left, ly = origin.y + fh * 0.2f;
    for (const auto& s : series) {
      const float w = fh * 2.0f + ImGui::CalcTextSize(s.label.c_str()).x + fh;
      if (lx + w > origin.x + size.x && lx > left) { lx = left; ly += fh * 1.25f; }
      if (!s.line) dl->AddCircleFilled(ImVec2(lx + fh * 0.7f, ly + fh / 2), fh * 0.25f, s.color);
      else if (s.dashed) dashed_line(dl, ImVec2(lx, ly + fh / 2), ImVec2(lx + fh * 1.4f, ly + fh / 2), s.color, 2.5f);
      else dl->AddLine(ImVec2(lx, ly + fh / 2), ImVec2(lx + fh * 1.4f, ly + fh / 2), s.color, 3.0f);
      dl->AddText(ImVec2(lx + fh * 1.8f, ly), text_col, s.label.c_str());
      lx += w;
    }
  }
  if (empty) {
    const char* msg = "no data yet: step or play to fill this plot";
    const ImVec2 ts = ImGui::CalcTextSize(msg);
    dl->AddText(ImVec2((left + right - ts.x) / 2, (top + bottom - ts.y) / 2), dim_col, msg);
  }

  // hover readout
  if (hovered && !empty) {
    const float mx = ImGui::GetIO().MousePos.x;
    const double xv = x0 + (mx - left) / (right - left) * (x1 - x0);
    dl->AddLine(ImVec2(mx, top), ImVec2(mx, bottom), dim_col);
    ImGui::BeginTooltip();
    ImGui::Text("%s = %s", o.x_label.c_str(), short_number(xv).c_str());
    for (const auto& s : series) {
      std::size_t best = s.x.size();
      double best_d = 1e300;
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        if (std::fabs(s.x[i] - xv) < best_d && std::isfinite(s.y[i])) { best_d = std::fabs(s.x[i] - xv); best = i; }
      if (best < s.x.size()) {
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(s.color), "%s: %s at %s", s.label.c_str(),
                           short_number(s.y[best]).c_str(), short_number(s.x[best]).c_str());
      }
    }
    ImGui::EndTooltip();
  }
  ImGui::PopID();
  return hovered;
}

}  // namespace kvlab::gui
