// Classification data: TSV parsing with line-numbered errors, sorted labels, CLS prefix, drop or truncate
// at max_len, PAD-padded batches.
#include <doctest/doctest.h>

#include "core/error.h"
#include "data/classify_dataset.h"
#include "data/tokenizer.h"
#include "data/tsv.h"

using namespace qkv;

TEST_CASE("data: TSV rows split at the first tab, skip blank lines and drop CR") {
  std::vector<TsvRow> rows = parse_tsv("a\tb c\r\n\n x\ty\tz\n", "f.tsv", "label", "text");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].left == "a");
  CHECK(rows[0].right == "b c");
  CHECK(rows[0].line == 1);
  CHECK(rows[1].left == " x");
  CHECK(rows[1].right == "y\tz");
  CHECK(rows[1].line == 3);
}

TEST_CASE("data: TSV errors name the source and the line") {
  CHECK_THROWS_WITH_AS(parse_tsv("a\tb\nno tab here\n", "f.tsv", "label", "text"),
                       doctest::Contains("f.tsv:2: no tab; expected label<TAB>text"), Error);
  CHECK_THROWS_WITH_AS(parse_tsv("a\tb\n\nc\t\n", "f.tsv", "label", "text"), doctest::Contains("f.tsv:3: empty text"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_tsv("\tb\n", "g.tsv", "source", "target"), doctest::Contains("g.tsv:1: empty source"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_tsv("\n\n", "e.tsv", "label", "text"), doctest::Contains("e.tsv: no label"), Error);
  CHECK_THROWS_WITH_AS(parse_tsv("a\tb\xFF\n", "u.tsv", "label", "text"),
                       doctest::Contains("u.tsv: invalid UTF-8 at byte offset 3 (line 1)"), Error);
}

TEST_CASE("data: classification examples are CLS + tokens with sorted label ids, padded with PAD") {
  const std::string tsv = "pos\tgreat film\nneg\tbad\n\npos\tfine\r\n";
  Tokenizer t = Tokenizer::train_char("great film bad fine", {"PAD", "CLS"});
  const int32_t pad = t.special("PAD"), cls = t.special("CLS");
  ClassifyDataset d(tsv, "r.tsv", t, 64);
  CHECK(d.labels() == std::vector<std::string>{"neg", "pos"});
  CHECK(d.size() == 3);
  CHECK(d.dropped() == 0);
  ClassifyBatch b = d.batch({0, 1, 2});
  CHECK(b.inputs.shape == Shape{3, 11});
  CHECK(b.labels.shape == Shape{3});
  CHECK(b.labels.data == std::vector<int32_t>{1, 0, 1});
  std::vector<int32_t> row0{cls};
  for (int32_t id : t.encode("great film")) row0.push_back(id);
  std::vector<int32_t> row1{cls};
  for (int32_t id : t.encode("bad")) row1.push_back(id);
  row1.resize(11, pad);
  CHECK(std::vector<int32_t>(b.inputs.data.begin(), b.inputs.data.begin() + 11) == row0);
  CHECK(std::vector<int32_t>(b.inputs.data.begin() + 11, b.inputs.data.begin() + 22) == row1);
  // A batch is only as long as its longest row.
  CHECK(d.batch({1, 2}).inputs.shape == Shape{2, 5});

  Rng rng(4), again(4);
  ClassifyBatch s = d.sample(8, rng);
  CHECK(s.labels.shape == Shape{8});
  CHECK(d.sample(8, again).inputs.data == s.inputs.data);
  CHECK_THROWS_WITH_AS(d.batch({3}), doctest::Contains("example 3 out of range"), Error);
}

TEST_CASE("data: classification drops or truncates examples longer than max_len") {
  const std::string tsv = "pos\tgreat film\nneg\tbad\npos\tfine\n";
  Tokenizer t = Tokenizer::train_char("great film bad fine", {"PAD", "CLS"});
  ClassifyDataset dropped(tsv, "r.tsv", t, 5);  // CLS + "fine" = 5 fits, CLS + "great film" = 11 does not
  CHECK(dropped.size() == 2);
  CHECK(dropped.dropped() == 1);
  CHECK(dropped.label(0) == 0);
  ClassifyDataset cut(tsv, "r.tsv", t, 5, Overlong::kTruncate);
  CHECK(cut.size() == 3);
  CHECK(cut.truncated() == 1);
  CHECK(cut.example(0).size() == 5);
  CHECK_THROWS_WITH_AS(ClassifyDataset("a\tgreat film\n", "r.tsv", t, 4), doctest::Contains("all 1 examples"), Error);
}

TEST_CASE("data: classification errors name the source and line") {
  Tokenizer t = Tokenizer::train_char("great film bad fine", {"PAD", "CLS"});
  CHECK_THROWS_WITH_AS(ClassifyDataset("pos\tgreat\nneg\tbaz\n", "r.tsv", t, 64),
                       doctest::Contains("r.tsv:2: char tokenizer: character 'z'"), Error);
  CHECK_THROWS_WITH_AS(ClassifyDataset("pos\tgreat\nmaybe\tbad\n", "v.tsv", t, 64, Overlong::kDrop, {"neg", "pos"}),
                       doctest::Contains("v.tsv:2: label 'maybe'"), Error);
  CHECK_THROWS_WITH_AS(ClassifyDataset("pos\tgreat\n", "r.tsv", Tokenizer::train_char("great", {"PAD"}), 64),
                       doctest::Contains("lacks CLS"), Error);
  CHECK_THROWS_WITH_AS(ClassifyDataset("pos great\n", "r.tsv", t, 64), doctest::Contains("r.tsv:1: no tab"), Error);
}
