// `qkv plot`: training curves from metrics.jsonl drawn as one standalone SVG (loss and lr against step).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qkv::cli {

// (step, value) pairs, sorted by step, one value per step.
using Series = std::vector<std::pair<int64_t, double>>;

// The curves of one run, as read from its metrics.jsonl.
struct RunCurves {
  std::string name;  // the run's folder, for the legend and the default title
  Series train_loss, val_loss, lr;
};

// Reads a metrics.jsonl (or the metrics.jsonl inside a run folder). A line that is not a JSON object with an
// integer `step` and numeric (or null) values is a qkv::Error naming "path:line"; so is a file without any
// train_loss or val_loss value.
RunCurves read_metrics(const std::string& path);

// Axis ticks at multiples of 1, 2 or 5 x 10^k: the smallest such step that covers [lo, hi] with at most
// max_ticks ticks. The axis then runs from values.front() to values.back(), which enclose [lo, hi].
struct Ticks {
  std::vector<double> values;
  std::vector<std::string> labels;  // one fixed format per axis: "0.5" "1.0" "1.5", or "0" "2e-4" "4e-4"
};
Ticks nice_ticks(double lo, double hi, int max_ticks);

// The SVG: train loss as a line, val loss as a line with point markers, and (single run) the learning rate as
// a thin dashed line on a right axis. `compare` (implied by several runs) gives each run one colour, draws
// val dashed, and leaves out lr. Same input, same bytes.
std::string plot_svg(const std::vector<RunCurves>& runs, const std::string& title, bool compare = false);

// The subcommand: reads each file, writes the SVG to `out` atomically, prints "wrote OUT (N points)".
void cmd_plot(const std::vector<std::string>& files, const std::string& out, const std::string& title, bool compare);

}  // namespace qkv::cli
