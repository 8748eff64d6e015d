// qkv plot: metrics.jsonl in, a well-formed standalone SVG out, with nice ticks, escaped text and exact points.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/archive.h"
#include "core/error.h"
#include "train/cli/plot.h"
#include "train/cli/svg.h"

using namespace qkv;
using namespace qkv::cli;

namespace {

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "qkv_plot" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A run of 100 steps as the trainer logs it: a train line every 10 steps, an eval line at 50 and 100.
std::string write_run(const std::string& name, double scale = 1.0) {
  std::string dir = temp_dir(name);
  std::ofstream f(dir + "/metrics.jsonl");
  for (int step = 10; step <= 100; step += 10) {
    f << "{\"elapsed_s\":" << step * 0.1 << ",\"grad_norm\":1.5,\"lr\":" << 1e-3 * step / 100
      << ",\"skipped\":0,\"step\":" << step << ",\"tokens_per_s\":1000.0,\"train_loss\":" << scale * (4.0 - step * 0.02)
      << "}\n";
    if (step % 50 == 0)
      f << "{\"eval_train_loss\":" << scale * (3.9 - step * 0.02) << ",\"step\":" << step
        << ",\"val_loss\":" << scale * (4.1 - step * 0.02) << "}\n";
  }
  return dir + "/metrics.jsonl";
}

// A small XML well-formedness check: tags nest and close in order, one root, attribute values quoted, and
// '&' only in the five entities. Returns "" when fine, else what is wrong.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  int roots = 0;
  auto entity_ok = [&](size_t i) {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
      if (s.compare(i, std::strlen(e), e) == 0) return true;
    return false;
  };
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_'; };
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&' && !entity_ok(i)) return "bare & at " + std::to_string(i);
    if (s[i] == '>') return "stray > at " + std::to_string(i);
    if (s[i] != '<') {
      ++i;
      continue;
    }
    bool closing = s[i + 1] == '/';
    size_t j = i + 1 + closing;
    size_t name_start = j;
    while (j < s.size() && is_name(s[j])) ++j;
    std::string name = s.substr(name_start, j - name_start);
    if (name.empty()) return "tag without a name at " + std::to_string(i);
    if (closing) {
      if (open.empty() || open.back() != name) return "</" + name + "> closes nothing open";
      open.pop_back();
      if (j >= s.size() || s[j] != '>') return "bad closing tag " + name;
      i = j + 1;
      continue;
    }
    // attributes: name="value"
    while (true) {
      while (j < s.size() && s[j] == ' ') ++j;
      if (j >= s.size()) return "unterminated <" + name;
      if (s[j] == '>' || s.compare(j, 2, "/>") == 0) break;
      size_t a = j;
      while (j < s.size() && is_name(s[j])) ++j;
      if (j == a || j + 1 >= s.size() || s[j] != '=' || s[j + 1] != '"') return "unquoted attribute in <" + name;
      size_t end = s.find('"', j + 2);
      if (end == std::string::npos) return "unterminated attribute in <" + name;
      for (size_t k = j + 2; k < end; ++k) {
        if (s[k] == '<') return "< in an attribute of <" + name;
        if (s[k] == '&' && !entity_ok(k)) return "bare & in an attribute of <" + name;
      }
      j = end + 1;
    }
    if (open.empty()) ++roots;
    if (s[j] == '>') {
      open.push_back(name);
      i = j + 1;
    } else {
      i = j + 2;
    }
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  return roots == 1 ? "" : std::to_string(roots) + " root elements";
}

// The value of attribute `attr` in every element whose text starts with `prefix` ("<polyline class=\"lr\"").
std::vector<std::string> attributes(const std::string& svg, const std::string& prefix, const std::string& attr) {
  std::vector<std::string> out;
  for (size_t at = svg.find(prefix); at != std::string::npos; at = svg.find(prefix, at + 1)) {
    size_t end = svg.find('>', at);
    size_t a = svg.find(" " + attr + "=\"", at);
    REQUIRE(a < end);
    a += attr.size() + 3;
    out.push_back(svg.substr(a, svg.find('"', a) - a));
  }
  return out;
}

// points="x,y x,y ..." as pairs.
std::vector<std::pair<double, double>> points(const std::string& list) {
  std::vector<std::pair<double, double>> out;
  std::istringstream in(list);
  for (std::string p; in >> p;) {
    size_t comma = p.find(',');
    REQUIRE(comma != std::string::npos);
    out.push_back({std::stod(p.substr(0, comma)), std::stod(p.substr(comma + 1))});
  }
  return out;
}

// The text of every <text ... class="cls" ...>label</text>.
std::vector<std::string> labels(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  std::string key = " class=\"" + cls + "\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    size_t begin = svg.find('>', at) + 1;
    out.push_back(svg.substr(begin, svg.find('<', begin) - begin));
  }
  return out;
}

// Labels that read as evenly spaced multiples of 1, 2 or 5 x 10^k.
bool nice(const std::vector<std::string>& ls) {
  if (ls.size() < 2) return false;
  std::vector<double> v;
  for (const std::string& l : ls) v.push_back(std::stod(l));
  double step = v[1] - v[0];
  double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
  bool one_two_five = std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9;
  for (size_t i = 0; i < v.size(); ++i) {
    double k = v[i] / step;
    if (std::abs(k - std::round(k)) > 1e-6 || std::abs(v[i] - v[0] - step * static_cast<double>(i)) > step * 1e-6)
      return false;
  }
  return one_two_five;
}

std::string error_of(const std::string& path) {
  try {
    read_metrics(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string write_text(const std::string& dir, const std::string& text) {
  std::string path = temp_dir(dir) + "/metrics.jsonl";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("plot: nice_ticks on hand-computed ranges") {
  using V = std::vector<double>;
  using L = std::vector<std::string>;
  // 0..10 in at most 6 ticks: step 1 needs 11, step 2 gives 0 2 4 6 8 10.
  CHECK(nice_ticks(0, 10, 6).values == V{0, 2, 4, 6, 8, 10});
  CHECK(nice_ticks(0, 10, 6).labels == L{"0", "2", "4", "6", "8", "10"});
  // 0.13..0.87 in 5: step 0.1 needs 0.1..0.9 (9), 0.2 needs 0..1 (6), 0.5 gives 0 0.5 1.
  CHECK(nice_ticks(0.13, 0.87, 5).values == V{0, 0.5, 1});
  CHECK(nice_ticks(0.13, 0.87, 5).labels == L{"0.0", "0.5", "1.0"});
  // 1.234..3.9 in 6: step 0.5 needs 1..4 (7), step 1 gives 1 2 3 4.
  CHECK(nice_ticks(1.234, 3.9, 6).values == V{1, 2, 3, 4});
  // Negative: -3.7..12.1 in 8: step 2 needs -4..14 (10), step 5 gives -5..15.
  CHECK(nice_ticks(-3.7, 12.1, 8).labels == L{"-5", "0", "5", "10", "15"});
  // A 2000-step run in 8 ticks: 200 needs 11, 500 gives 5.
  CHECK(nice_ticks(0, 2000, 8).values == V{0, 500, 1000, 1500, 2000});
  // Decimals are exact: the tick at 0.3 is the double 0.3, not 3 * 0.1.
  CHECK(nice_ticks(0.1, 0.5, 5).values == V{0.1, 0.2, 0.3, 0.4, 0.5});
  CHECK(nice_ticks(0.1, 0.5, 5).labels == L{"0.1", "0.2", "0.3", "0.4", "0.5"});
  // Learning rates: steps below 10^-3 print in scientific form.
  CHECK(nice_ticks(0, 1e-3, 6).values == V{0, 2e-4, 4e-4, 6e-4, 8e-4, 1e-3});
  CHECK(nice_ticks(0, 1e-3, 6).labels == L{"0", "2e-4", "4e-4", "6e-4", "8e-4", "1e-3"});
  CHECK(nice_ticks(0, 3e-5, 6).labels == L{"0", "1e-5", "2e-5", "3e-5"});
  CHECK(nice_ticks(1e-4, 2.5e-4, 4).labels == L{"1e-4", "1.5e-4", "2e-4", "2.5e-4"});
  // An lr logged from a float (1e-3 as 0.0010000000474974513) still ends the axis at 1e-3.
  CHECK(nice_ticks(0, 0.0010000000474974513, 6).values.back() == 1e-3);
  // Ends exactly on ticks stay (1.8 / 0.1 is 18.000000000000004 in doubles).
  CHECK(nice_ticks(1.8, 2.2, 5).values == V{1.8, 1.9, 2.0, 2.1, 2.2});
  // A flat range is widened by a tenth around its value; zero by one.
  CHECK(nice_ticks(2, 2, 5).values == V{1.8, 1.9, 2.0, 2.1, 2.2});
  CHECK(nice_ticks(0, 0, 3).values == V{-1, 0, 1});
  // Large values print in scientific form too.
  CHECK(nice_ticks(0, 3e6, 4).labels == L{"0", "1e6", "2e6", "3e6"});
  // Out of range: errors, not crashes.
  CHECK_THROWS_AS(nice_ticks(1, 0, 5), Error);
  CHECK_THROWS_AS(nice_ticks(0, INFINITY, 5), Error);
  CHECK_THROWS_AS(nice_ticks(-1e308, 1e308, 5), Error);
  CHECK_THROWS_AS(nice_ticks(0, 1, 1), Error);
  CHECK_NOTHROW(nice_ticks(1e-300, 1e-300, 5));
  CHECK_NOTHROW(nice_ticks(-1e300, 1e300, 5));
}

TEST_CASE("plot: reads metrics.jsonl and draws a well-formed SVG") {
  RunCurves run = read_metrics(write_run("gpt-tiny"));
  CHECK(run.name == "gpt-tiny");
  REQUIRE(run.train_loss.size() == 10);
  REQUIRE(run.val_loss.size() == 2);
  REQUIRE(run.lr.size() == 10);
  CHECK(run.train_loss.front() == std::pair<int64_t, double>{10, 3.8});
  CHECK(run.val_loss.back().first == 100);

  std::string svg = plot_svg({run}, "gpt-tiny");
  CHECK(xml_problem(svg) == "");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("<script") == std::string::npos);
  CHECK(svg.find("href") == std::string::npos);  // standalone: nothing external
  auto train = points(attributes(svg, "<polyline class=\"train-loss\"", "points").at(0));
  auto val = points(attributes(svg, "<polyline class=\"val-loss\"", "points").at(0));
  auto lr = points(attributes(svg, "<polyline class=\"lr\"", "points").at(0));
  CHECK(train.size() == 10);
  CHECK(val.size() == 2);
  CHECK(lr.size() == 10);
  CHECK(std::count(svg.begin(), svg.end(), '\n') > 0);
  for (size_t i = 1; i < train.size(); ++i) {
    CHECK(train[i].first > train[i - 1].first);    // steps go right
    CHECK(train[i].second > train[i - 1].second);  // falling loss goes down the page
  }
  for (auto [x, y] : train) CHECK((x >= 0 && x <= 800 && y >= 0 && y <= 480));
  // Val points carry markers: one circle each.
  CHECK(attributes(svg, "<circle", "cx").size() >= 2);
  // Ticks: evenly spaced 1-2-5 numbers on all three axes.
  for (std::string axis : {"x-tick", "y-tick", "lr-tick"}) {
    INFO(axis);
    CHECK(nice(labels(svg, axis)));
  }
  // step axis 0..100 in steps of 20; the loss axis covers 2.0..3.8 (train 2.0..3.8, val 2.1..3.1).
  CHECK(labels(svg, "x-tick") == std::vector<std::string>{"0", "20", "40", "60", "80", "100"});
  auto y = labels(svg, "y-tick");
  REQUIRE(y.size() >= 2);
  CHECK(std::stod(y.front()) <= 2.0);
  CHECK(std::stod(y.back()) >= 3.8);
  for (const char* text : {">step<", ">loss<", ">learning rate<", ">train loss<", ">val loss<", ">gpt-tiny<"})
    CHECK(svg.find(text) != std::string::npos);
  // Deterministic: same input, same bytes.
  CHECK(plot_svg({run}, "gpt-tiny") == svg);
}

TEST_CASE("plot: text is escaped for XML") {
  CHECK(xml_escape("a<b&c>\"d'") == "a&lt;b&amp;c&gt;&quot;d&apos;");
  CHECK(xml_escape("caf\xC3\xA9 \xE2\x86\x92") == "caf\xC3\xA9 \xE2\x86\x92");  // UTF-8 stays
  CHECK(xml_escape(std::string("x\x01y\xFFz\xC3", 6)) == "x?y?z?");             // control and broken bytes go
  RunCurves run = read_metrics(write_run("a<b&c"));
  CHECK(run.name == "a<b&c");
  std::string svg = plot_svg({run}, run.name);
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("a&lt;b&amp;c") != std::string::npos);
  CHECK(svg.find("a<b") == std::string::npos);
  std::string compared = plot_svg({run, read_metrics(write_run("r\"1'"))}, "<&>");
  CHECK(xml_problem(compared) == "");
  CHECK(compared.find("r&quot;1&apos;") != std::string::npos);
}

TEST_CASE("plot: compare gives each run one colour and no lr") {
  RunCurves a = read_metrics(write_run("run-a")), b = read_metrics(write_run("run-b", 1.2));
  std::string svg = plot_svg({a, b}, "two runs");
  CHECK(xml_problem(svg) == "");
  auto train = attributes(svg, "<polyline class=\"train-loss\"", "stroke");
  auto val = attributes(svg, "<polyline class=\"val-loss\"", "stroke");
  REQUIRE(train.size() == 2);
  REQUIRE(val.size() == 2);
  CHECK(train[0] != train[1]);
  CHECK(train[0] == val[0]);  // a run's train and val share its colour
  CHECK(train[1] == val[1]);
  CHECK(attributes(svg, "<polyline class=\"val-loss\"", "stroke-dasharray").size() == 2);
  CHECK(svg.find("class=\"lr\"") == std::string::npos);
  CHECK(svg.find("learning rate") == std::string::npos);
  CHECK(svg.find(">run-a<") != std::string::npos);
  CHECK(svg.find(">run-b<") != std::string::npos);
  // --compare with one run: the compare style, still without lr.
  std::string one = plot_svg({a}, "a", true);
  CHECK(xml_problem(one) == "");
  CHECK(one.find("class=\"lr\"") == std::string::npos);
}

TEST_CASE("plot: bad input is an error naming the file and line") {
  std::string good = "{\"step\":1,\"train_loss\":2.5,\"lr\":0.001}\n";
  std::string e = error_of(write_text("bad-json", good + good + "{\"step\": 3, \"train_loss\": }\n"));
  CHECK(e.find("bad-json/metrics.jsonl:3: not valid JSON") != std::string::npos);
  CHECK(error_of(write_text("not-object", good + "[1,2]\n")).find("metrics.jsonl:2: expected a JSON object") !=
        std::string::npos);
  CHECK(error_of(write_text("no-step", good + "\n{\"train_loss\":1}\n")).find("metrics.jsonl:3: no \"step\"") !=
        std::string::npos);
  CHECK(error_of(write_text("float-step", "{\"step\":1.5,\"train_loss\":1}\n")).find(":1: \"step\" should be") !=
        std::string::npos);
  CHECK(error_of(write_text("huge-step", "{\"step\":18446744073709551615,\"train_loss\":1}\n")).find(":1:") !=
        std::string::npos);
  CHECK(error_of(write_text("string-loss", "{\"step\":1,\"train_loss\":\"low\"}\n"))
            .find(":1: \"train_loss\" should be a number") != std::string::npos);
  CHECK(error_of(write_text("overflow", "{\"step\":1,\"train_loss\":1e999}\n")).find(":1:") != std::string::npos);
  CHECK(error_of(write_text("empty", "")).find("empty") != std::string::npos);
  CHECK(error_of(write_text("blank", "\n  \n")).find("no train_loss or val_loss") != std::string::npos);
  CHECK(error_of(write_text("lr-only", "{\"step\":1,\"lr\":0.1}\n")).find("no train_loss or val_loss") !=
        std::string::npos);
  CHECK(error_of(temp_dir("missing") + "/nothing.jsonl").find("nothing.jsonl") != std::string::npos);
}

TEST_CASE("plot: null losses, resumed runs, CRLF and run folders") {
  // A skipped update logs a null loss (nlohmann's NaN); a resume from step 2 logs steps 3.. again: the later
  // lines win, and the points come out sorted by step.
  std::string path = write_text("resumed",
                                "{\"step\":1,\"train_loss\":3.0}\r\n"
                                "{\"step\":2,\"train_loss\":null}\n"
                                "{\"step\":3,\"train_loss\":2.0}\n"
                                "{\"step\":4,\"train_loss\":1.9}\n"
                                "{\"step\":3,\"train_loss\":2.1}\n"
                                "{\"step\":4,\"train_loss\":2.0,\"val_loss\":2.2}\n");
  RunCurves r = read_metrics(path);
  CHECK(r.train_loss == Series{{1, 3.0}, {3, 2.1}, {4, 2.0}});
  CHECK(r.val_loss == Series{{4, 2.2}});
  CHECK(r.lr.empty());
  // A run folder reads its metrics.jsonl.
  CHECK(read_metrics(std::filesystem::path(path).parent_path().string()).train_loss.size() == 3);
  // A single point, one value everywhere, no lr: still a well-formed chart.
  std::string one = plot_svg({read_metrics(write_text("single", "{\"step\":5,\"val_loss\":1.0}\n"))}, "");
  CHECK(xml_problem(one) == "");
  CHECK(one.find("<circle") != std::string::npos);
  CHECK(one.find("class=\"lr-tick\"") == std::string::npos);
  CHECK_THROWS_AS(plot_svg({}, "none"), Error);
}

TEST_CASE("plot: cmd_plot writes the SVG file") {
  std::string a = write_run("cmd-a");
  std::string out = temp_dir("cmd-out") + "/curves.svg";
  cmd_plot({a}, out, "", false);
  std::string svg = read_file(out);
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find(">cmd-a<") != std::string::npos);  // default title: the run's folder
  CHECK(svg.find("class=\"lr\"") != std::string::npos);
  // Two runs from folders of the same name are told apart by their paths.
  std::string b = write_run("x/cmd-a");
  cmd_plot({a, b}, out, "T", false);
  svg = read_file(out);
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("class=\"lr\"") == std::string::npos);
  CHECK(svg.find("x/cmd-a<") != std::string::npos);
}
