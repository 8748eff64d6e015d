#include "train/cli/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "train/cli/commands.h"
#include "train/cli/svg.h"

namespace qkv::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- reading metrics.jsonl ----

// A JSON value for an error message, cut short so a long line does not flood the terminal.
std::string brief(const json& j) {
  std::string s = j.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// The value of `key` on a line, if it has one. nlohmann writes a NaN or infinite float as null (a skipped
// update's loss), so null is "no value here", not an error.
bool read_value(const json& line, const char* key, const std::string& where, double& out) {
  auto it = line.find(key);
  if (it == line.end() || it->is_null()) return false;
  QKV_CHECK(it->is_number(), where, ": \"", key, "\" should be a number, got ", brief(*it));
  out = it->get<double>();
  QKV_CHECK(std::isfinite(out), where, ": \"", key, "\" is not a finite number");
  return true;
}

// Sorted by step, one point per step. A run resumed from an earlier checkpoint appends steps it had already
// logged; the later line is the resumed run's, which is the one that continues, so it wins.
void sort_unique(Series& s) {
  std::stable_sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Series out;
  for (const auto& p : s) {
    if (!out.empty() && out.back().first == p.first)
      out.back() = p;
    else
      out.push_back(p);
  }
  s = std::move(out);
}

// The run's folder ("out/gpt-baby/metrics.jsonl" -> "gpt-baby"), also for a bare "metrics.jsonl".
std::string run_name(const fs::path& file) {
  std::string name = fs::absolute(file).lexically_normal().parent_path().filename().string();
  return name.empty() ? file.filename().string() : name;
}

// ---- number formatting: exact and locale-free, so the same input gives the same bytes ----

// 10^e, exact for |e| <= 22; finite and normal for the -307..307 that nice_ticks asks for.
double pow10(int e) {
  double p = 1;
  for (int i = 0; i < std::abs(e); ++i) p *= 10;
  return e < 0 ? 1 / p : p;
}

// n x 10^e as text: fixed with max(0, -e) decimals ("0.5", "1.0", "500"), or scientific ("2.5e-5", "1e-4").
std::string decimal(int64_t n, int e, bool scientific) {
  std::string sign = n < 0 ? "-" : "";
  std::string digits = std::to_string(n < 0 ? -n : n);
  if (scientific) {
    if (n == 0) return "0";
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back(), ++e;
    std::string mantissa = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    return sign + mantissa + "e" + std::to_string(e + static_cast<int>(digits.size()) - 1);
  }
  if (e >= 0) return n == 0 ? "0" : sign + digits + std::string(e, '0');
  size_t decimals = static_cast<size_t>(-e);
  if (digits.size() <= decimals) digits.insert(0, decimals + 1 - digits.size(), '0');
  return sign + digits.substr(0, digits.size() - decimals) + "." + digits.substr(digits.size() - decimals);
}

// ---- text ----

// At most `n` characters (code points), with "..." when cut: legend labels must fit their box.
std::string shorten(const std::string& s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // a continuation byte
    if (chars++ == n) return s.substr(0, i) + "...";
  }
  return s;
}

size_t text_chars(const std::string& s) {
  size_t chars = 0;
  for (char c : s) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return chars;
}

// ---- drawing ----

// NOTE [plot layout]: a fixed 800 x 480 canvas; the plot area leaves room for the title above, tick labels and
// axis titles left and below, and the lr axis on the right when there is one. Tick labels are 12px text, so
// about 7px per character sizes the legend box. Axes are "loose": they run from the first nice tick below
// the data to the first above, so every point lies inside and the ends carry labels.
constexpr double kWidth = 800, kHeight = 480, kLeft = 76, kTop = 48, kBottom = 56, kCharWidth = 7;
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr const char* kLrColour = "#777777";
constexpr const char* kDashed = "6 4";

struct Axis {
  Ticks ticks;
  double lo, hi;      // data range = [ticks.front(), ticks.back()]
  double p_lo, p_hi;  // the pixels they map to
  double at(double v) const { return p_lo + (v - lo) / (hi - lo) * (p_hi - p_lo); }
};

// `margin` widens the data range by that fraction of it on each side first, so that a curve peaking right at
// a tick does not run along the frame; a range that starts at or above 0 (lr) never reaches below 0.
Axis make_axis(const char* name, double lo, double hi, int max_ticks, double p_lo, double p_hi, double margin = 0) {
  double pad = (hi - lo) * margin;
  if (std::isfinite(pad)) {
    lo = lo >= 0 ? std::max(0.0, lo - pad) : lo - pad;
    hi += pad;
  }
  Axis a{{}, 0, 0, p_lo, p_hi};
  try {
    a.ticks = nice_ticks(lo, hi, max_ticks);
  } catch (const Error& e) {
    QKV_FAIL("plot: the ", name, " axis: ", e.what());  // absurd values (1e308, denormals) end here
  }
  a.lo = a.ticks.values.front();
  a.hi = a.ticks.values.back();
  return a;
}

struct Style {
  std::string colour;
  double width = 1.5;
  bool dashed = false, markers = false;
};

struct LegendEntry {
  std::string label;
  Style style;
};

// A run's curve as a polyline; a lone point draws no line, so it gets a marker even where the series has none.
void draw_series(Svg& svg, const Series& s, const Axis& x, const Axis& y, const std::string& cls, const Style& st) {
  if (s.empty()) return;
  svg.out += "<polyline class=\"" + cls + "\" fill=\"none\" stroke=\"" + st.colour + "\" stroke-width=\"" +
             svg_number(st.width) + "\" stroke-linejoin=\"round\"" +
             (st.dashed ? std::string(" stroke-dasharray=\"") + kDashed + "\"" : "") + " points=\"";
  for (size_t i = 0; i < s.size(); ++i)
    svg.out += (i ? " " : "") + svg_number(x.at(static_cast<double>(s[i].first))) + "," + svg_number(y.at(s[i].second));
  svg.out += "\"/>\n";
  if (st.markers || s.size() == 1)
    for (const auto& [step, v] : s) svg.circle(x.at(static_cast<double>(step)), y.at(v), st.colour);
}

// A legend's short stroke in a style.
void draw_sample(Svg& svg, double x, double y, const Style& st) {
  svg.line(x, y, x + 28, y,
           "stroke=\"" + st.colour + "\" stroke-width=\"" + svg_number(st.width) + "\"" +
               (st.dashed ? std::string(" stroke-dasharray=\"") + kDashed + "\"" : ""));
  if (st.markers) svg.circle(x + 14, y, st.colour);
}

void range(const Series& s, double& lo, double& hi) {
  for (const auto& p : s) lo = std::min(lo, p.second), hi = std::max(hi, p.second);
}

void step_range(const Series& s, double& lo, double& hi) {
  if (s.empty()) return;
  lo = std::min(lo, static_cast<double>(s.front().first));
  hi = std::max(hi, static_cast<double>(s.back().first));
}

}  // namespace

RunCurves read_metrics(const std::string& path) {
  std::error_code ec;
  std::string file = fs::is_directory(path, ec) ? (fs::path(path) / "metrics.jsonl").string() : path;
  std::string text = read_file(file);
  QKV_CHECK(!text.empty(), file, ": empty (no metrics yet?)");
  RunCurves run;
  run.name = run_name(file);
  int64_t line_no = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = std::min(text.find('\n', begin), text.size());
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // a blank line says nothing
    std::string where = file + ":" + std::to_string(line_no);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      QKV_FAIL(where, ": not valid JSON (", e.what(), ")");
    }
    QKV_CHECK(j.is_object(), where, ": expected a JSON object, got ", brief(j));
    auto step = j.find("step");
    QKV_CHECK(step != j.end(), where, ": no \"step\"");
    QKV_CHECK(step->is_number_integer() &&
                  (!step->is_number_unsigned() ||
                   step->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())),
              where, ": \"step\" should be an integer, got ", brief(*step));
    int64_t s = step->get<int64_t>();
    double v;
    if (read_value(j, "train_loss", where, v)) run.train_loss.push_back({s, v});
    if (read_value(j, "val_loss", where, v)) run.val_loss.push_back({s, v});
    if (read_value(j, "lr", where, v)) run.lr.push_back({s, v});
  }
  QKV_CHECK(!run.train_loss.empty() || !run.val_loss.empty(), file, ": no train_loss or val_loss values in ", line_no,
            " lines");
  sort_unique(run.train_loss);
  sort_unique(run.val_loss);
  sort_unique(run.lr);
  return run;
}

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  QKV_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "nice_ticks: [", lo, ", ", hi,
            "] is not a finite range");
  QKV_CHECK(max_ticks >= 2 && max_ticks <= 1000, "nice_ticks: max_ticks ", max_ticks, " is not in [2, 1000]");
  // A flat range (one value, or a spread too small for labels to tell apart) is widened around its middle.
  double magnitude = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo <= magnitude * 1e-9) {
    double mid = lo / 2 + hi / 2;
    double pad = mid == 0 ? 1 : std::abs(mid) / 10;
    lo = mid - pad;
    hi = mid + pad;
  }
  double span = hi - lo;
  QKV_CHECK(std::isfinite(span), "nice_ticks: [", lo, ", ", hi, "] is too wide to plot");
  int e = static_cast<int>(std::floor(std::log10(span / (max_ticks - 1))));
  QKV_CHECK(e >= -307 && e <= 305, "nice_ticks: [", lo, ", ", hi, "] is out of the range qkv can plot");
  // The step 10^(e+1) exceeds span / (max_ticks - 1), so it always fits: the loop ends by then.
  for (int k = e; k <= e + 2; ++k) {
    for (int64_t m : {1, 2, 5}) {
      double step = static_cast<double>(m) * pow10(k);
      // The slack (a millionth of a step, far below a pixel) keeps 1.8 / 0.1 = 18.000000000000004 from adding
      // a tick below 1.8, and an lr logged from a float (0.0010000000474974513) from adding one above 1e-3.
      double first = std::floor(lo / step + 1e-6), last = std::ceil(hi / step - 1e-6);
      if (last - first + 1 > max_ticks) continue;
      Ticks t;
      double largest = 0;
      for (auto i = static_cast<int64_t>(first); i <= static_cast<int64_t>(last); ++i) {
        double n = static_cast<double>(i * m);
        // n / 10^-k is the double nearest the decimal, so a tick at 0.3 is exactly the literal 0.3.
        t.values.push_back(k < 0 ? n / pow10(-k) : n * pow10(k));
        largest = std::max(largest, std::abs(t.values.back()));
      }
      bool scientific = k <= -4 || largest >= 1e6;
      for (auto i = static_cast<int64_t>(first); i <= static_cast<int64_t>(last); ++i)
        t.labels.push_back(decimal(i * m, k, scientific));
      return t;
    }
  }
  QKV_FAIL("nice_ticks: no step fits [", lo, ", ", hi, "] in ", max_ticks, " ticks");
}

namespace {

// The chart's frame: the plot area and its axes (lr only for a single run that logged it).
struct Frame {
  bool show_lr = false;
  double right = 0, bottom = 0;
  Axis x, y, lr;
};

Frame make_frame(const std::vector<RunCurves>& runs, bool compare) {
  Frame f;
  f.show_lr = !compare && !runs[0].lr.empty();
  double step_lo = std::numeric_limits<double>::infinity(), step_hi = -step_lo;
  double loss_lo = step_lo, loss_hi = -step_lo, lr_lo = 0, lr_hi = -step_lo;
  for (const RunCurves& r : runs) {
    for (const Series* s : {&r.train_loss, &r.val_loss}) {
      step_range(*s, step_lo, step_hi);
      range(*s, loss_lo, loss_hi);
    }
    if (f.show_lr) {
      step_range(r.lr, step_lo, step_hi);
      range(r.lr, lr_lo, lr_hi);
    }
  }
  QKV_CHECK(loss_lo <= loss_hi, "plot: the runs have no loss values to draw");
  // Steps count from 1, so the step axis starts at 0; it spans at least 5 so that its ticks are whole steps.
  step_lo = std::min(step_lo, 0.0);
  step_hi = std::max(step_hi, step_lo + 5);

  f.right = kWidth - (f.show_lr ? 86 : 24);
  f.bottom = kHeight - kBottom;
  f.x = make_axis("step", step_lo, step_hi, 8, kLeft, f.right);
  f.y = make_axis("loss", loss_lo, loss_hi, 7, f.bottom, kTop, 0.03);
  if (f.show_lr) f.lr = make_axis("learning rate", lr_lo, lr_hi, 7, f.bottom, kTop, 0.03);
  return f;
}

// Grid, ticks, axis titles and the frame around the plot area.
void draw_axes(Svg& svg, const Frame& f) {
  const Axis &x = f.x, &y = f.y, &lr = f.lr;
  const double right = f.right, bottom = f.bottom, mid_x = (kLeft + right) / 2, mid_y = (kTop + bottom) / 2;
  // Grid first, so that the curves are drawn over it.
  for (double v : x.ticks.values) svg.line(x.at(v), kTop, x.at(v), bottom, "stroke=\"#e8e8e8\"");
  for (double v : y.ticks.values) svg.line(kLeft, y.at(v), right, y.at(v), "stroke=\"#e8e8e8\"");

  // Axes: tick marks outside the frame, labels beyond them; dy="0.35em" centres a label on its tick.
  for (size_t i = 0; i < x.ticks.values.size(); ++i) {
    double px = x.at(x.ticks.values[i]);
    svg.line(px, bottom, px, bottom + 5, "stroke=\"#444444\"");
    svg.text(px, bottom + 19, x.ticks.labels[i], "class=\"x-tick\" text-anchor=\"middle\"");
  }
  for (size_t i = 0; i < y.ticks.values.size(); ++i) {
    double py = y.at(y.ticks.values[i]);
    svg.line(kLeft - 5, py, kLeft, py, "stroke=\"#444444\"");
    svg.text(kLeft - 8, py, y.ticks.labels[i], "class=\"y-tick\" text-anchor=\"end\" dy=\"0.35em\"");
  }
  svg.text(mid_x, kHeight - 14, "step", "text-anchor=\"middle\"");
  svg.text(20, mid_y, "loss", "text-anchor=\"middle\" transform=\"rotate(-90 20 " + svg_number(mid_y) + ")\"");
  if (f.show_lr) {
    for (size_t i = 0; i < lr.ticks.values.size(); ++i) {
      double py = lr.at(lr.ticks.values[i]);
      svg.line(right, py, right + 5, py, "stroke=\"#444444\"");
      svg.text(right + 8, py, lr.ticks.labels[i],
               std::string("class=\"lr-tick\" dy=\"0.35em\" fill=\"") + kLrColour + "\"");
    }
    double tx = kWidth - 14;
    svg.text(tx, mid_y, "learning rate",
             std::string("text-anchor=\"middle\" fill=\"") + kLrColour + "\" transform=\"rotate(90 " + svg_number(tx) +
                 " " + svg_number(mid_y) + ")\"");
  }
  svg.out += "<rect x=\"" + svg_number(kLeft) + "\" y=\"" + svg_number(kTop) + "\" width=\"" +
             svg_number(right - kLeft) + "\" height=\"" + svg_number(bottom - kTop) +
             "\" fill=\"none\" stroke=\"#444444\"/>\n";
}

// Curves: lr underneath, then train, then val (few points, markers on top). Returns the legend's entries.
std::vector<LegendEntry> draw_curves(Svg& svg, const std::vector<RunCurves>& runs, const Frame& f, bool compare) {
  const Axis &x = f.x, &y = f.y;
  std::vector<LegendEntry> legend;
  if (!compare) {
    const RunCurves& r = runs[0];
    Style train{kPalette[0]}, val{kPalette[1], 1.5, false, true}, rate{kLrColour, 1, true};
    if (f.show_lr) draw_series(svg, r.lr, x, f.lr, "lr", rate);
    draw_series(svg, r.train_loss, x, y, "train-loss", train);
    draw_series(svg, r.val_loss, x, y, "val-loss", val);
    if (!r.train_loss.empty()) legend.push_back({"train loss", train});
    if (!r.val_loss.empty()) legend.push_back({"val loss", val});
    if (f.show_lr) legend.push_back({"learning rate", rate});
    return legend;
  }
  // One colour per run; the line style tells train (solid) from val (dashed, with markers).
  bool any_train = false, any_val = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string colour = kPalette[i % std::size(kPalette)];
    draw_series(svg, runs[i].train_loss, x, y, "train-loss", {colour});
    any_train = any_train || !runs[i].train_loss.empty();
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string colour = kPalette[i % std::size(kPalette)];
    draw_series(svg, runs[i].val_loss, x, y, "val-loss", {colour, 1.5, true, true});
    any_val = any_val || !runs[i].val_loss.empty();
  }
  for (size_t i = 0; i < runs.size(); ++i) legend.push_back({runs[i].name, {kPalette[i % std::size(kPalette)]}});
  if (any_train) legend.push_back({"train loss", {"#444444"}});
  if (any_val) legend.push_back({"val loss", {"#444444", 1.5, true, true}});
  return legend;
}

// Legend in the top right corner, where falling loss curves leave room; a light box keeps it readable over
// anything that does pass there.
void draw_legend(Svg& svg, std::vector<LegendEntry> legend, const Frame& f) {
  size_t chars = 0;
  for (LegendEntry& e : legend) {
    e.label = shorten(e.label, 40);
    chars = std::max(chars, text_chars(e.label));
  }
  const double row = 18, box_w = 50 + kCharWidth * static_cast<double>(chars),
               box_h = 10 + row * static_cast<double>(legend.size());
  const double bx = std::max(kLeft + 4, f.right - 10 - box_w), by = kTop + 10;
  svg.out += "<g class=\"legend\">\n<rect x=\"" + svg_number(bx) + "\" y=\"" + svg_number(by) + "\" width=\"" +
             svg_number(box_w) + "\" height=\"" + svg_number(box_h) +
             "\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#cccccc\"/>\n";
  for (size_t i = 0; i < legend.size(); ++i) {
    double ly = by + 5 + row * (static_cast<double>(i) + 0.5);
    draw_sample(svg, bx + 8, ly, legend[i].style);
    svg.text(bx + 42, ly, legend[i].label, "dy=\"0.35em\"");
  }
  svg.out += "</g>\n";
}

}  // namespace

std::string plot_svg(const std::vector<RunCurves>& runs, const std::string& title, bool compare) {
  QKV_CHECK(!runs.empty(), "plot: no runs to draw");
  compare = compare || runs.size() > 1;
  const Frame f = make_frame(runs, compare);
  Svg svg;
  svg.out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(kWidth) + "\" height=\"" +
            svg_number(kHeight) + "\" viewBox=\"0 0 " + svg_number(kWidth) + " " + svg_number(kHeight) +
            "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" fill=\"#222222\">\n";
  svg.out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg.text((kLeft + f.right) / 2, 28, title, "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
  draw_axes(svg, f);
  draw_legend(svg, draw_curves(svg, runs, f, compare), f);
  svg.out += "</svg>\n";
  return svg.out;
}

void cmd_plot(const std::vector<std::string>& files, const std::string& out, const std::string& title, bool compare) {
  QKV_CHECK(!files.empty(), "plot: give at least one metrics.jsonl");
  std::vector<RunCurves> runs;
  for (const std::string& f : files) runs.push_back(read_metrics(f));
  // Runs in folders of the same name (out/a/run, out/b/run) would share a legend label: name those by path.
  std::vector<bool> shared(runs.size(), false);
  for (size_t i = 0; i < runs.size(); ++i)
    for (size_t k = 0; k < runs.size(); ++k) shared[i] = shared[i] || (k != i && runs[k].name == runs[i].name);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!shared[i]) continue;
    std::error_code ec;
    fs::path p = fs::is_directory(files[i], ec) ? fs::path(files[i]) : fs::path(files[i]).parent_path();
    std::string folder = p.lexically_normal().generic_string();
    runs[i].name = folder.empty() || folder == "./" ? files[i] : folder;
  }
  compare = compare || runs.size() > 1;
  std::string t = title;
  if (t.empty()) t = runs.size() == 1 ? runs[0].name : std::to_string(runs.size()) + " runs";
  write_file_atomic(out, plot_svg(runs, t, compare));
  size_t points = 0;
  for (const RunCurves& r : runs) points += r.train_loss.size() + r.val_loss.size();
  std::printf("wrote %s (%zu points)\n", out.c_str(), points);
}

void add_plot(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> files;
    std::string out, title;
    bool compare = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("plot", "draw training curves from metrics.jsonl as a standalone SVG");
  cmd->add_option("metrics", a->files, "metrics.jsonl files (or run folders); several imply --compare")->required();
  cmd->add_option("--out", a->out, "SVG file to write")->required();
  cmd->add_option("--title", a->title, "chart title (default: the run's folder)");
  cmd->add_flag("--compare", a->compare, "one colour per run, no learning rate");
  ctx.on(cmd, [a] {
    cmd_plot(a->files, a->out, a->title, a->compare);
    return 0;
  });
}

}  // namespace qkv::cli
