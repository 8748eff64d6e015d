#include "train/cli/attention_map.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/archive.h"
#include "core/autograd.h"
#include "core/error.h"
#include "nn/model_common.h"
#include "train/cli/svg.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

// ---- running the model ----

// `prefix` (CLS or BOS; -1 for none) then the ids of `text`. Refused here rather than inside the model so that
// the message names the option and both lengths.
std::vector<int32_t> encode_within(const Tokenizer& tokenizer, const std::string& text, int32_t prefix,
                                   const char* option, int64_t block_size) {
  std::vector<int32_t> ids;
  if (prefix >= 0) ids.push_back(prefix);
  std::vector<int32_t> body = tokenizer.encode(text);
  QKV_CHECK(!body.empty(), "attention: ", option, " encodes to no tokens");
  ids.insert(ids.end(), body.begin(), body.end());
  int64_t n = static_cast<int64_t>(ids.size());
  QKV_CHECK(n <= block_size, "attention: ", option, " is ", n, " tokens",
            (prefix >= 0 ? " (with " + tokenizer.tokens()[prefix] + ")" : std::string()),
            ", longer than the model's block_size ", block_size);
  return ids;
}

int32_t special_or_fail(const Tokenizer& tokenizer, const char* name) {
  int32_t id = tokenizer.special(name);
  QKV_CHECK(id >= 0, "attention: the checkpoint's tokenizer has no ", name, " token");
  return id;
}

std::vector<std::string> token_strings(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(tokenizer.tokens().at(static_cast<size_t>(id)));
  return out;
}

Ids row(const std::vector<int32_t>& ids) { return Ids(ids, {1, static_cast<int64_t>(ids.size())}); }

std::vector<AttentionMap> seq2seq_maps(Seq2Seq& model, const Tokenizer& tokenizer, const std::string& text,
                                       const std::string& target) {
  const ModelConfig& m = model.config();
  std::vector<int32_t> src = encode_within(tokenizer, text, -1, "--text", m.block_size);
  std::vector<std::string> src_tokens = token_strings(tokenizer, src);
  Mask padding = padding_mask(row(src), m.pad_id);
  std::vector<Tensor> enc;
  Tensor memory = model.encode(row(src), &padding, &enc);
  std::vector<AttentionMap> maps = split_heads(enc, "self", src_tokens, src_tokens);
  if (target.empty()) return maps;
  std::vector<int32_t> tgt = encode_within(tokenizer, target, special_or_fail(tokenizer, "BOS"), "--target",
                                           m.block_size);  // teacher forcing: what the decoder sees in training
  std::vector<std::string> tgt_tokens = token_strings(tokenizer, tgt);
  DecoderWeights dec;
  model.decode(row(tgt), memory, &padding, nullptr, true, &dec);
  for (auto* part : {&dec.self, &dec.cross}) {
    bool self = part == &dec.self;
    std::vector<AttentionMap> more =
        split_heads(*part, self ? "decoder-self" : "cross", tgt_tokens, self ? tgt_tokens : src_tokens);
    maps.insert(maps.end(), more.begin(), more.end());
  }
  return maps;
}

// ---- drawing ----

// Whitespace tokens would be invisible labels; these stand-ins keep them readable. Bytes of a split UTF-8
// character stay as they are and become '?' in xml_escape.
std::string visible(const std::string& token) {
  std::string out;
  for (char ch : token) {
    if (ch == ' ')
      out += "\u2423";  // open box
    else if (ch == '\n')
      out += "\u21b5";  // return arrow
    else if (ch == '\t')
      out += "\u21e5";  // tab arrow
    else
      out += ch;
  }
  return out;
}

std::string label(const std::string& token) { return xml_escape(visible(token)); }

// Six significant digits: enough to check a page against the model to 1e-5, short enough for big pages.
std::string weight_text(float w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(w));
  return buf;
}

// White to navy (the ends and middle of ColorBrewer's Blues): zero is white, so masked cells disappear into
// the page and the eye goes to where the weight is. The legends draw the same stops as gradients.
constexpr int kStops[3][3] = {{247, 251, 255}, {107, 174, 214}, {8, 48, 107}};

std::string colour(float w) {
  double t = std::isfinite(w) ? std::clamp(static_cast<double>(w), 0.0, 1.0) * 2.0 : 0.0;
  int i = t >= 1.0 ? 1 : 0;
  double f = t - i;
  char buf[8];
  int c[3];
  for (int k = 0; k < 3; ++k)
    c[k] = static_cast<int>(std::lround(kStops[i][k] + f * (kStops[i + 1][k] - kStops[i][k])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

// "bank (3) → the (0): 0.25", the hover text of a cell.
std::string cell_title(const AttentionMap& m, size_t q, size_t k, const std::string& w) {
  return label(m.queries[q]) + " (" + std::to_string(q) + ") \u2192 " + label(m.keys[k]) + " (" + std::to_string(k) +
         "): " + w;
}

std::string describe(const std::string& kind) {
  if (kind == "cross") return "cross-attention (target queries, source keys)";
  if (kind == "decoder-self") return "decoder self-attention";
  return "self-attention";
}

std::string data_attributes(const AttentionMap& m) {
  return " data-kind=\"" + m.kind + "\" data-layer=\"" + std::to_string(m.layer) + "\" data-head=\"" +
         std::to_string(m.head) + "\"";
}

const char* const kStyle = R"(body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:20px 0 8px}
.legend{display:flex;align-items:center;gap:8px;margin:12px 0}
.bar{display:inline-block;width:240px;height:14px;border:1px solid #999;background:linear-gradient(to right,%STOPS%)}
.layer{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}
table.map{border-collapse:collapse;font:11px monospace}
.map td{width:14px;min-width:14px;height:14px;padding:0;border:1px solid #fff}
.map td:hover{outline:2px solid #d62728}
.map th{font-weight:normal;padding:0 4px;white-space:pre}
.map thead th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:4px 0}
.map tbody th{text-align:right}
)";

std::string style() {
  std::string s = kStyle;
  s.replace(s.find("%STOPS%"), 7, colour(0.0f) + "," + colour(0.5f) + "," + colour(1.0f));
  return s;
}

void html_table(std::ostringstream& o, const AttentionMap& m) {
  o << "<figure><figcaption>head " << m.head << "</figcaption>\n<table class=\"map\"" << data_attributes(m) << ">\n";
  o << "<thead><tr><th></th>";
  for (const std::string& k : m.keys) o << "<th>" << label(k) << "</th>";
  o << "</tr></thead>\n<tbody>\n";
  for (size_t q = 0; q < m.queries.size(); ++q) {
    o << "<tr><th>" << label(m.queries[q]) << "</th>";
    for (size_t k = 0; k < m.keys.size(); ++k) {
      float w = m.weights[q * m.keys.size() + k];
      std::string text = weight_text(w);
      o << "<td data-w=\"" << text << "\" title=\"" << cell_title(m, q, k, text)
        << "\" style=\"background:" << colour(w) << "\"></td>";
    }
    o << "</tr>\n";
  }
  o << "</tbody></table></figure>\n";
}

// ---- the SVG ----

constexpr int kCell = 16, kChar = 7, kPad = 8;

// Characters, not bytes: UTF-8 lead bytes. Labels are monospace, so this gives their width.
int chars(const std::string& s) {
  return static_cast<int>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Where the parts of one map go: row labels left of the grid, column labels above it, the scale below.
struct SvgLayout {
  int left = 0, top = 0, width = 0, height = 0, legend_y = 0;
  int x(size_t key) const { return left + static_cast<int>(key) * kCell; }
  int y(size_t query) const { return top + static_cast<int>(query) * kCell; }
};

SvgLayout svg_layout(const AttentionMap& m, const std::string& heading) {
  int query_w = 0, key_h = 0;
  for (const std::string& q : m.queries) query_w = std::max(query_w, chars(visible(q)) * kChar);
  for (const std::string& k : m.keys) key_h = std::max(key_h, chars(visible(k)) * kChar);
  SvgLayout at;
  at.left = kPad + query_w + kPad;
  at.top = 28 + key_h + kPad;
  at.legend_y = at.y(m.queries.size()) + 16;
  const int heading_w = kPad + chars(heading) * 8;  // sans-serif at 13px: a generous 8px a character
  at.width = std::max({at.x(m.keys.size()) + kPad, heading_w, 320});
  at.height = at.legend_y + 34;
  return at;
}

void svg_legend(std::ostringstream& o, int y) {
  o << "<defs><linearGradient id=\"scale\"><stop offset=\"0\" stop-color=\"" << colour(0.0f)
    << "\"/><stop offset=\"0.5\" stop-color=\"" << colour(0.5f) << "\"/><stop offset=\"1\" stop-color=\""
    << colour(1.0f) << "\"/></linearGradient></defs>\n<text x=\"" << kPad << "\" y=\"" << y + 11
    << "\">weight 0</text>\n<rect x=\"" << kPad + 64 << "\" y=\"" << y
    << "\" width=\"200\" height=\"12\" fill=\"url(#scale)\" stroke=\"#999\"/>\n<text x=\"" << kPad + 272 << "\" y=\""
    << y + 11 << "\">1</text>\n";
}

}  // namespace

std::vector<AttentionMap> split_heads(const std::vector<Tensor>& layers, const std::string& kind,
                                      const std::vector<std::string>& queries, const std::vector<std::string>& keys) {
  const int64_t Tq = static_cast<int64_t>(queries.size()), Tk = static_cast<int64_t>(keys.size());
  std::vector<AttentionMap> maps;
  for (size_t l = 0; l < layers.size(); ++l) {
    const Tensor& w = layers[l];
    QKV_CHECK(w.defined() && w.dim() == 4 && w.size(0) == 1 && w.size(2) == Tq && w.size(3) == Tk, "attention: layer ",
              l, " gave no ", kind, " weights of shape [1, heads, ", Tq, ", ", Tk, "]");
    for (int64_t h = 0; h < w.size(1); ++h) {
      const float* p = w.data() + h * Tq * Tk;
      maps.push_back({kind, static_cast<int64_t>(l), h, queries, keys, std::vector<float>(p, p + Tq * Tk)});
    }
  }
  return maps;
}

std::vector<AttentionMap> attention_maps(AnyModel& model, const Tokenizer& tokenizer, const std::string& text,
                                         const std::string& target) {
  const ModelConfig& m = model.config();
  QKV_CHECK(target.empty() || model.kind() == ModelKind::Seq2Seq,
            "attention: --target needs a seq2seq checkpoint, not ", name(model.kind()));
  model.module().eval();  // no dropout: the weights a reader sees are the ones the model uses
  NoGrad no_grad;
  auto self_maps = [&](const std::vector<int32_t>& ids, const std::vector<Tensor>& weights) {
    std::vector<std::string> tokens = token_strings(tokenizer, ids);
    return split_heads(weights, "self", tokens, tokens);
  };
  return model.visit(
      Overloaded{[&](Seq2Seq& s2s) { return seq2seq_maps(s2s, tokenizer, text, target); },
                 [&](GPT& gpt) {
                   std::vector<int32_t> ids = encode_within(tokenizer, text, -1, "--text", m.block_size);
                   std::vector<Tensor> weights;
                   gpt.forward(row(ids), nullptr, nullptr, true, &weights);
                   return self_maps(ids, weights);
                 },
                 [&](Encoder& encoder) {
                   int32_t cls = m.n_classes > 0 ? special_or_fail(tokenizer, "CLS") : -1;  // as cmd_classify feeds it
                   std::vector<int32_t> ids = encode_within(tokenizer, text, cls, "--text", m.block_size);
                   std::vector<Tensor> weights;
                   encoder.encode(row(ids), nullptr, &weights);
                   return self_maps(ids, weights);
                 }});
}

std::string attention_html(const std::vector<AttentionMap>& maps, const std::string& title) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>qkv attention: "
    << xml_escape(title) << "</title>\n<style>\n"
    << style() << "</style>\n</head>\n<body>\n<h1>" << xml_escape(title) << "</h1>\n"
    << "<p>Each row is a query token, each column a key it may attend to; a row's weights sum to 1. Hover over a "
       "cell for its weight. \u2423 is a space, \u21b5 a newline.</p>\n"
    << "<div class=\"legend\">weight 0 <span class=\"bar\"></span> 1</div>\n";
  for (size_t i = 0; i < maps.size(); ++i) {
    const AttentionMap& m = maps[i];
    bool first = i == 0 || maps[i - 1].kind != m.kind || maps[i - 1].layer != m.layer;
    if (first) o << "<section>\n<h2>layer " << m.layer << ": " << describe(m.kind) << "</h2>\n<div class=\"layer\">\n";
    html_table(o, m);
    bool last = i + 1 == maps.size() || maps[i + 1].kind != m.kind || maps[i + 1].layer != m.layer;
    if (last) o << "</div>\n</section>\n";
  }
  o << "</body>\n</html>\n";
  return o.str();
}

std::string attention_svg(const AttentionMap& m, const std::string& title) {
  const std::string heading = xml_escape(title) + " \u2014 layer " + std::to_string(m.layer) + ", head " +
                              std::to_string(m.head) + ", " + describe(m.kind);
  const SvgLayout at = svg_layout(m, heading);
  const size_t nk = m.keys.size();
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << at.width << "\" height=\"" << at.height
    << "\" viewBox=\"0 0 " << at.width << " " << at.height << "\" font-family=\"monospace\" font-size=\"11\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
    << "<text x=\"" << kPad << "\" y=\"18\" font-family=\"sans-serif\" font-size=\"13\">" << heading << "</text>\n";
  for (size_t k = 0; k < nk; ++k)  // keys across, read bottom to top
    o << "<text transform=\"translate(" << at.x(k) + kCell / 2 + 4 << "," << at.top - 4 << ") rotate(-90)\">"
      << label(m.keys[k]) << "</text>\n";
  o << "<g class=\"map\"" << data_attributes(m) << ">\n";
  for (size_t q = 0; q < m.queries.size(); ++q) {
    o << "<text x=\"" << at.left - 4 << "\" y=\"" << at.y(q) + 12 << "\" text-anchor=\"end\">" << label(m.queries[q])
      << "</text>\n";
    for (size_t k = 0; k < nk; ++k) {
      float w = m.weights[q * nk + k];
      std::string text = weight_text(w);
      o << "<rect x=\"" << at.x(k) << "\" y=\"" << at.y(q) << "\" width=\"" << kCell - 1 << "\" height=\"" << kCell - 1
        << "\" fill=\"" << colour(w) << "\" data-w=\"" << text << "\"><title>" << cell_title(m, q, k, text)
        << "</title></rect>\n";
    }
  }
  o << "</g>\n";
  svg_legend(o, at.legend_y);
  o << "</svg>\n";
  return o.str();
}

}  // namespace qkv::cli
