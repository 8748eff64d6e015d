// qkv attention: the page shows the model's own weights (parsed back from the HTML and SVG), rows sum to 1,
// causal maps are zero above the diagonal, one map per layer and head, and token labels are HTML-escaped.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "train/checkpoint.h"
#include "train/cli/attention.h"
#include "train/cli/attention_map.h"
#include "train/cli/attention_page.h"
#include "train/cli/attention_svg.h"
#include "train/model_io.h"

using namespace qkv;
using namespace qkv::cli;

namespace {

// '<', '>' and '&' must come out as entities in the labels and the title.
const char* const kCorpus = "the <bank> & river was steep";
const char* const kText = "the <bank> & river";

struct Tiny {
  Tokenizer tokenizer;
  ModelConfig config;
  AnyModel model;
};

// Weights drawn with std 0.5, not nanoGPT's 0.02: small weights make every row nearly uniform, and a uniform
// map would match a page that showed the wrong head or layer.
Tiny tiny(ModelKind kind, const std::vector<std::string>& specials, int64_t n_classes = 0) {
  Tokenizer tokenizer = Tokenizer::train_char(kCorpus, specials);
  ModelConfig c;
  c.kind = kind;
  c.n_layer = 2, c.n_head = 3, c.d_model = 12, c.d_ff = 24, c.block_size = 24;
  c.vocab_size = tokenizer.size();
  c.pad_id = tokenizer.special("PAD");
  c.n_classes = n_classes;
  AnyModel model = build_model(c);
  Rng rng(7);
  for (auto& [name, p] : model.module().named_parameters()) {
    Tensor r = Tensor::randn(p.shape(), rng, 0.5f);
    std::copy_n(r.data(), p.numel(), p.data());
  }
  model.module().eval();
  return {std::move(tokenizer), c, std::move(model)};
}

std::vector<int32_t> ids_of(const Tiny& t, const std::string& text, int32_t prefix = -1) {
  std::vector<int32_t> ids;
  if (prefix >= 0) ids.push_back(prefix);
  for (int32_t id : t.tokenizer.encode(text)) ids.push_back(id);
  return ids;
}

Ids row(const std::vector<int32_t>& ids) { return Ids(ids, {1, static_cast<int64_t>(ids.size())}); }

// The labels a reader should see for each character of `text`, written out by hand.
std::vector<std::string> escaped_chars(const std::string& text) {
  std::vector<std::string> out;
  for (char ch : text) {
    if (ch == '<')
      out.push_back("&lt;");
    else if (ch == '>')
      out.push_back("&gt;");
    else if (ch == '&')
      out.push_back("&amp;");
    else if (ch == ' ')
      out.push_back("\u2423");
    else
      out.push_back(std::string(1, ch));
  }
  return out;
}

// ---- reading a page back with plain string scanning ----

struct Parsed {
  std::string kind;
  int64_t layer = -1, head = -1;
  std::vector<std::string> row_labels, col_labels;
  std::vector<std::vector<double>> rows;
};

// The value of name="..." inside the tag that starts at `tag`.
std::string attr(const std::string& s, size_t tag, const std::string& name) {
  size_t end = s.find('>', tag);
  size_t p = s.find(" " + name + "=\"", tag);
  REQUIRE_MESSAGE(p < end, "no ", name, " in ", s.substr(tag, end - tag));
  p += name.size() + 3;
  return s.substr(p, s.find('"', p) - p);
}

std::vector<std::string> th_texts(const std::string& s, size_t from, size_t to) {
  std::vector<std::string> out;
  for (size_t p = s.find("<th>", from); p < to; p = s.find("<th>", p + 1))
    out.push_back(s.substr(p + 4, s.find("</th>", p) - p - 4));
  return out;
}

std::vector<double> weights_in(const std::string& s, size_t from, size_t to) {
  std::vector<double> out;
  for (size_t p = s.find("data-w=\"", from); p < to; p = s.find("data-w=\"", p + 1))
    out.push_back(std::strtod(s.c_str() + p + 8, nullptr));
  return out;
}

std::vector<Parsed> parse_html(const std::string& page) {
  std::vector<Parsed> maps;
  const std::string open = "<table class=\"map\"";
  for (size_t at = page.find(open); at != std::string::npos; at = page.find(open, at + 1)) {
    Parsed m;
    m.kind = attr(page, at, "data-kind");
    m.layer = std::stoll(attr(page, at, "data-layer"));
    m.head = std::stoll(attr(page, at, "data-head"));
    size_t end = page.find("</table>", at), body = page.find("<tbody>", at);
    m.col_labels = th_texts(page, at, body);
    REQUIRE((!m.col_labels.empty() && m.col_labels[0].empty()));  // the corner cell
    m.col_labels.erase(m.col_labels.begin());
    for (size_t tr = page.find("<tr>", body); tr < end; tr = page.find("<tr>", tr + 1)) {
      size_t tr_end = page.find("</tr>", tr);
      m.row_labels.push_back(th_texts(page, tr, tr_end).at(0));
      m.rows.push_back(weights_in(page, tr, tr_end));
    }
    maps.push_back(m);
  }
  return maps;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// ---- checks ----

// Largest |page - model| over a map; w is the layer's [1, NH, Tq, Tk].
double max_diff(const Parsed& p, const Tensor& w) {
  const int64_t Tq = w.size(2), Tk = w.size(3);
  REQUIRE(static_cast<int64_t>(p.rows.size()) == Tq);
  double worst = 0;
  for (int64_t q = 0; q < Tq; ++q) {
    REQUIRE(static_cast<int64_t>(p.rows[q].size()) == Tk);
    for (int64_t k = 0; k < Tk; ++k)
      worst = std::max(worst, std::abs(p.rows[q][k] - w.data()[(p.head * Tq + q) * Tk + k]));
  }
  return worst;
}

void check_rows_sum_to_one(const Parsed& p) {
  for (size_t q = 0; q < p.rows.size(); ++q) {
    double s = 0;
    for (double w : p.rows[q]) s += w;
    INFO(p.kind, " layer ", p.layer, " head ", p.head, " row ", q);
    CHECK(std::abs(s - 1.0) <= 1e-4);
  }
}

// Zero above the diagonal, exactly; positive on and below it.
void check_causal(const Parsed& p) {
  for (size_t q = 0; q < p.rows.size(); ++q)
    for (size_t k = 0; k < p.rows[q].size(); ++k) {
      INFO(p.kind, " layer ", p.layer, " head ", p.head, " [", q, ", ", k, "] = ", p.rows[q][k]);
      if (k > q)
        CHECK(p.rows[q][k] == 0.0);
      else
        CHECK(p.rows[q][k] > 0.0);
    }
}

// The smallest distance from a map to the model's next head of the same layer: when it is large, a page
// that showed the wrong head could not pass max_diff.
double gap_to_other_head(const std::vector<Parsed>& maps, const std::vector<Tensor>& own) {
  double smallest = 1;
  for (Parsed m : maps) {
    const Tensor& w = own.at(static_cast<size_t>(m.layer));
    m.head = (m.head + 1) % w.size(1);
    smallest = std::min(smallest, max_diff(m, w));
  }
  return smallest;
}

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("qkv_attention_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("attention_map: a GPT's page shows its own causal weights, every layer and head, escaped labels") {
  Tiny t = tiny(ModelKind::Gpt, {});
  std::vector<Tensor> own;
  {
    NoGrad no_grad;
    t.model.gpt().forward(row(ids_of(t, kText)), nullptr, nullptr, false, &own);
  }
  std::string page = attention_html(attention_maps(t.model, t.tokenizer, kText), "gpt: the <bank> & river");
  std::vector<Parsed> maps = parse_html(page);

  REQUIRE(maps.size() == 2 * 3);
  CHECK(count(page, "data-w=\"") == 6u * 18 * 18);  // no stray cells outside the tables
  CHECK(gap_to_other_head(maps, own) > 0.05);
  for (size_t i = 0; i < maps.size(); ++i) {
    const Parsed& m = maps[i];
    CHECK(m.kind == "self");
    CHECK(m.layer == static_cast<int64_t>(i / 3));
    CHECK(m.head == static_cast<int64_t>(i % 3));
    CHECK(max_diff(m, own.at(static_cast<size_t>(m.layer))) <= 1e-5);
    check_rows_sum_to_one(m);
    check_causal(m);
    CHECK(m.row_labels == escaped_chars(kText));
    CHECK(m.col_labels == escaped_chars(kText));
  }
  CHECK(maps[0].row_labels[4] == "&lt;");
  CHECK(maps[0].row_labels[11] == "&amp;");
  CHECK(page.find("the &lt;bank&gt; &amp; river") != std::string::npos);  // the title
  CHECK(page.find("<bank>") == std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("http") == std::string::npos);  // nothing to fetch
}

TEST_CASE("attention_page: an index links every map, and masked cells have a style of their own") {
  Tiny t = tiny(ModelKind::Gpt, {});
  std::vector<AttentionMap> maps = attention_maps(t.model, t.tokenizer, kText);
  std::string page = attention_html(maps, "gpt");
  // The index: one link per map, each to a figure of that id holding that map's table.
  size_t nav = page.find("<nav id=\"index\">"), nav_end = page.find("</nav>");
  REQUIRE(nav != std::string::npos);
  REQUIRE(nav_end > nav);
  CHECK(count(page.substr(nav, nav_end - nav), "<a href=\"#") == maps.size());
  for (const AttentionMap& m : maps) {
    std::string id = map_id(m);
    INFO(id);
    CHECK(page.find("<a href=\"#" + id + "\">", nav) < nav_end);
    size_t figure = page.find("<figure id=\"" + id + "\">");
    REQUIRE(figure != std::string::npos);
    size_t table = page.find("<table class=\"map\"", figure);
    CHECK(attr(page, table, "data-layer") == std::to_string(m.layer));
    CHECK(attr(page, table, "data-head") == std::to_string(m.head));
  }
  // Masked cells: the keys after each query, class "m", weight 0, no colour of their own; the style and the
  // legend say what they are.
  const size_t n = 18, per_map = n * (n - 1) / 2;
  CHECK(count(page, "<td class=\"m\" data-w=\"0\"") == maps.size() * per_map);
  CHECK(count(page, "<td class=\"m\"") == maps.size() * per_map);
  CHECK(page.find(".m,.swatch{background:repeating-linear-gradient(") != std::string::npos);
  CHECK(page.find("<span class=\"swatch\"></span> masked:") != std::string::npos);
  // An encoder sees every key: nothing is masked, and the legend does not mention masking.
  Tiny e = tiny(ModelKind::Encoder, {"PAD", "MASK", "CLS"});
  std::string open = attention_html(attention_maps(e.model, e.tokenizer, kText), "encoder");
  CHECK(count(open, "class=\"m\"") == 0);
  CHECK(open.find("masked:") == std::string::npos);
}

TEST_CASE("attention_page: maps of a 4-head layer sit side by side at 1280 px, and a long text gets fewer") {
  // The widths the page is drawn at: the body's margins (2 x 24 px) and the gaps between maps (20 px).
  auto fits = [](const PageLayout& at) { return at.per_row * at.map_width + (at.per_row - 1) * 20 <= 1280 - 48; };
  PageLayout short_text = page_layout(31, 1, 4);
  CHECK(short_text.per_row == 4);  // a layer a row
  CHECK(short_text.cell >= 7);
  CHECK(fits(short_text));
  PageLayout issue = page_layout(43, 1, 4);  // the 730 px maps of the issue, one a row before
  CHECK(issue.per_row >= 3);
  CHECK(fits(issue));
  PageLayout two_heads = page_layout(20, 1, 2);
  CHECK(two_heads.per_row == 2);
  CHECK(two_heads.cell == 14);  // no smaller than it needs to be
  PageLayout long_text = page_layout(300, 1, 4);
  CHECK(long_text.per_row == 1);
  CHECK(long_text.cell >= 4);
  CHECK(long_text.font <= long_text.cell + 3);
  for (const PageLayout& at : {short_text, issue, two_heads}) CHECK(at.font <= at.cell + 1);
}

TEST_CASE("attention_map: an encoder's maps are bidirectional, and a classifier's start at CLS") {
  Tiny t = tiny(ModelKind::Encoder, {"PAD", "MASK", "CLS"});
  std::vector<Tensor> own;
  {
    NoGrad no_grad;
    t.model.encoder().encode(row(ids_of(t, kText)), nullptr, &own);
  }
  std::vector<Parsed> maps = parse_html(attention_html(attention_maps(t.model, t.tokenizer, kText), "encoder"));
  REQUIRE(maps.size() == 6);
  CHECK(gap_to_other_head(maps, own) > 0.05);
  for (const Parsed& m : maps) {
    CHECK(max_diff(m, own.at(static_cast<size_t>(m.layer))) <= 1e-5);
    check_rows_sum_to_one(m);
    double above = 0;  // the weight each query gives to later tokens
    for (size_t q = 0; q < m.rows.size(); ++q)
      for (size_t k = q + 1; k < m.rows[q].size(); ++k) above += m.rows[q][k];
    CHECK(above > 1.0);
  }

  Tiny c = tiny(ModelKind::Encoder, {"PAD", "CLS"}, 2);
  {
    NoGrad no_grad;
    c.model.encoder().encode(row(ids_of(c, kText, c.tokenizer.special("CLS"))), nullptr, &own);
  }
  std::vector<Parsed> cls = parse_html(attention_html(attention_maps(c.model, c.tokenizer, kText), "classifier"));
  REQUIRE(cls.size() == 6);
  CHECK(cls[0].row_labels.size() == 19);
  CHECK(cls[0].row_labels[0] == "&lt;CLS&gt;");
  CHECK(max_diff(cls[5], own[1]) <= 1e-5);
}

TEST_CASE("attention_map: seq2seq gives encoder, decoder and cross maps, teacher-forced on BOS + target") {
  Tiny t = tiny(ModelKind::Seq2Seq, {"PAD", "BOS", "EOS"});
  const std::string src = "the <bank>", tgt = "a & river";
  std::vector<int32_t> src_ids = ids_of(t, src), tgt_ids = ids_of(t, tgt, t.tokenizer.special("BOS"));
  std::vector<Tensor> enc;
  DecoderWeights dec;
  {
    NoGrad no_grad;
    Mask padding = padding_mask(row(src_ids), t.config.pad_id);
    Tensor memory = t.model.seq2seq().encode(row(src_ids), &padding, &enc);
    t.model.seq2seq().decode(row(tgt_ids), memory, &padding, nullptr, false, &dec);
  }
  std::vector<Parsed> only_src = parse_html(attention_html(attention_maps(t.model, t.tokenizer, src), "s2s"));
  CHECK(only_src.size() == 6);
  std::vector<Parsed> maps = parse_html(attention_html(attention_maps(t.model, t.tokenizer, src, tgt), "s2s"));
  REQUIRE(maps.size() == 3 * 6);
  CHECK(gap_to_other_head({maps.begin(), maps.begin() + 6}, enc) > 0.05);
  CHECK(gap_to_other_head({maps.begin() + 6, maps.begin() + 12}, dec.self) > 0.05);
  CHECK(gap_to_other_head({maps.begin() + 12, maps.end()}, dec.cross) > 0.05);
  std::vector<std::string> tgt_labels = escaped_chars(tgt);
  tgt_labels.insert(tgt_labels.begin(), "&lt;BOS&gt;");
  for (size_t i = 0; i < maps.size(); ++i) {
    const Parsed& m = maps[i];
    const char* kind = i < 6 ? "self" : i < 12 ? "decoder-self" : "cross";
    CHECK(m.kind == kind);
    CHECK(m.layer == static_cast<int64_t>(i % 6 / 3));
    CHECK(m.head == static_cast<int64_t>(i % 3));
    size_t l = static_cast<size_t>(m.layer);
    const Tensor& own = i < 6 ? enc.at(l) : i < 12 ? dec.self.at(l) : dec.cross.at(l);
    CHECK(max_diff(m, own) <= 1e-5);
    check_rows_sum_to_one(m);
    if (m.kind == "decoder-self") check_causal(m);
    CHECK(m.row_labels == (i < 6 ? escaped_chars(src) : tgt_labels));
    CHECK(m.col_labels == (i < 12 && i >= 6 ? tgt_labels : escaped_chars(src)));
  }
  CHECK(maps[12].rows.size() == 10);  // BOS + 9 target characters
  CHECK(maps[12].rows[0].size() == 10);
}

TEST_CASE("attention_map: the SVG holds one head, a rect per cell with its weight, escaped labels") {
  Tiny t = tiny(ModelKind::Gpt, {});
  std::vector<AttentionMap> maps = attention_maps(t.model, t.tokenizer, kText);
  const AttentionMap& m = maps.at(4);  // layer 1, head 1
  std::string svg = attention_svg(m, "a <b> & c");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
  CHECK(count(svg, "class=\"map\"") == 1);
  size_t g = svg.find("<g class=\"map\"");
  CHECK(attr(svg, g, "data-layer") == "1");
  CHECK(attr(svg, g, "data-head") == "1");
  CHECK(attr(svg, g, "data-kind") == "self");
  std::vector<double> cells = weights_in(svg, 0, svg.size());
  REQUIRE(cells.size() == 18 * 18);
  CHECK(count(svg, "<rect ") == 18 * 18 + 2);                              // the cells, the background and the scale
  CHECK(count(svg, "fill=\"url(#masked)\" data-w=\"0\"") == 18 * 17 / 2);  // hatched above the diagonal
  CHECK(svg.find("masked (cannot be seen)") != std::string::npos);
  double worst = 0;
  for (size_t i = 0; i < cells.size(); ++i) worst = std::max(worst, std::abs(cells[i] - m.weights[i]));
  CHECK(worst <= 1e-5);
  CHECK(count(svg, ">&lt;</text>") == 2);  // its row and its column
  CHECK(count(svg, ">&amp;</text>") == 2);
  CHECK(svg.find("a &lt;b&gt; &amp; c") != std::string::npos);
}

TEST_CASE("attention_map: qkv attention on a checkpoint selects maps and refuses bad input by name") {
  Tiny t = tiny(ModelKind::Gpt, {});
  std::string dir = temp_dir(), ckpt = dir + "/gpt.qkv";
  Config config;
  config.model = t.config;
  save_checkpoint(ckpt, make_checkpoint(config, t.tokenizer, t.model, {}));

  AttentionArgs a;
  a.ckpt = ckpt;
  a.text = kText;
  a.out = dir + "/all.html";
  cmd_attention(a);
  std::vector<Parsed> all = parse_html(read_file(a.out));
  std::vector<Parsed> direct = parse_html(attention_html(attention_maps(t.model, t.tokenizer, kText), "x"));
  REQUIRE(all.size() == 6);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].rows == direct[i].rows);  // the checkpoint's model is ours

  a.layer = 1, a.head = 2, a.out = dir + "/one.html";
  cmd_attention(a);
  std::vector<Parsed> one = parse_html(read_file(a.out));
  REQUIRE(one.size() == 1);
  CHECK((one[0].layer == 1 && one[0].head == 2));
  CHECK(one[0].rows == direct[5].rows);
  a.layer.reset();
  a.out = dir + "/heads2.html";
  cmd_attention(a);
  CHECK(parse_html(read_file(a.out)).size() == 2);  // head 2 of each layer

  a.head.reset();
  a.svg = true, a.out = dir + "/default.svg";
  cmd_attention(a);
  std::string svg = read_file(a.out);
  size_t g = svg.find("<g class=\"map\"");
  REQUIRE(g != std::string::npos);
  CHECK((attr(svg, g, "data-layer") == "0" && attr(svg, g, "data-head") == "0"));
  a.svg = false;

  AttentionArgs bad = a;
  bad.text = "the river was steep the bank";  // 28 characters, block_size 24
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("--text is 28 tokens"), Error);
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("block_size 24"), Error);
  bad = a;
  bad.layer = 2;
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("--layer 2 is out of range: the model has layers 0 to 1"),
                       Error);
  bad = a;
  bad.head = -1;
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("--head -1 is out of range: the model has heads 0 to 2"),
                       Error);
  bad = a;
  bad.kind = "cross";
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("no cross maps"), Error);
  bad.kind = "diagonal";
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("--kind must be self, decoder-self or cross"), Error);
  bad = a;
  bad.target = "river";
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("--target needs a seq2seq checkpoint"), Error);
  bad = a;
  bad.text = "";
  CHECK_THROWS_WITH_AS(cmd_attention(bad), doctest::Contains("--text encodes to no tokens"), Error);
  std::filesystem::remove_all(dir);
}
