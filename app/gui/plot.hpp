// A small line-plot widget drawn with ImDrawList (Debian has no ImPlot): axes with "nice" ticks,
// axis labels, legend, hover readout of every series at the mouse, optional log-scale y axis.
// It draws what it is given; it does not fit curves or keep state between frames.
#pragma once
#include <imgui.h>

#include <string>
#include <vector>

namespace kvlab::gui {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;
  ImU32 color = IM_COL32_WHITE;
  bool dashed = false;     // formulas and fits are dashed, measurements solid
  bool markers = false;    // draw a dot per point (sparse data such as sweep results)
  float thickness = 2.0f;
  bool line = true;        // false: markers only (separate events such as prefills)
  bool in_legend = true;   // false: drawn and read out on hover, but no legend entry
};

struct PlotOptions {
  std::string x_label, y_label;
  bool log_y = false;
  float height = 220.0f;
  double x_min_hint = 0.0;  // the x range always includes this (0 for positions)
  std::vector<double> x_markers;        // vertical marker lines (e.g. a preset's real maximum)
  std::vector<std::string> marker_labels;
  std::string hover_note;   // one sentence added under the hover readout (e.g. what outliers are)
};

// Draws the plot filling the available width; returns true while the mouse hovers it.
bool draw_plot(const char* id, const PlotOptions& options, const std::vector<PlotSeries>& series);

// "1.5k", "2.3M", "512" for tick labels.
std::string short_number(double v);

}  // namespace kvlab::gui
