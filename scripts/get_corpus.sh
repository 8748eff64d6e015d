#!/usr/bin/env bash
# Builds the project's default corpora into data/ from Debian packages (no other downloads):
#   data/austen.txt  Jane Austen's six novels, from r-cran-janeaustenr (the `default` GPT config)
#   data/de-en.tsv   English<TAB>German sentence pairs, from dict-de-en (the `seq2seq-de-en` config)
#   data/reviews.tsv, data/reviews-test.tsv   label<TAB>review Amazon fine-food reviews, from r-cran-modeldata
#                    (the `encoder-classify` config; the test file is held out, for the final accuracy)
# Idempotent: a file that exists and is non-empty is kept, so a second run only reports what is there.
# `--force` rebuilds them all. Packages are installed only when missing. Outputs are written to a temporary
# name and renamed at the end, so an interrupted run never leaves a half-written corpus that looks done.
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help)
      echo "usage: scripts/get_corpus.sh [--force]   (builds data/austen.txt, data/de-en.tsv, data/reviews{,-test}.tsv)"
      exit 0
      ;;
    *)
      echo "get_corpus: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

mkdir -p data
austen=data/austen.txt
deen=data/de-en.tsv
reviews=data/reviews.tsv
reviews_test=data/reviews-test.tsv
start=$SECONDS

labels() { # examples per label of a label<TAB>text file, and the majority class's share (the baseline to beat)
  cut -f1 "$1" | sort | uniq -c | awk -v f="$1" '
    { n[NR] = $1; l[NR] = $2; t += $1; if ($1 > m) { m = $1; ml = $2 } }
    END {
      s = ""
      for (i = 1; i <= NR; i++) s = s sprintf("%s%s %d", i > 1 ? ", " : "", l[i], n[i])
      printf "get_corpus: %-22s labels: %s; majority %s %.1f%%\n", f, s, ml, 100 * m / t
    }'
}

report() { # size in bytes and line count of each corpus present, and the label counts of the classify sets
  local f
  for f in "$austen" "$deen" "$reviews" "$reviews_test"; do
    [ -s "$f" ] && printf 'get_corpus: %-22s %10d bytes %8d lines\n' "$f" "$(stat -c %s "$f")" "$(wc -l <"$f")"
  done
  for f in "$reviews" "$reviews_test"; do
    [ -s "$f" ] && labels "$f"
  done
  return 0
}

need() { [ "$force" -eq 1 ] || [ ! -s "$1" ]; } # does this output have to be (re)built?
# the two review files come from one R call, so they are built together: both when either is missing
need_reviews() { need "$reviews" || need "$reviews_test"; }

if ! need "$austen" && ! need "$deen" && ! need_reviews; then
  report
  exit 0
fi

# --- packages: install only what is missing; `apt-get update` only when something must be installed ---
packages=()
{ need "$austen" || need_reviews; } && packages+=(r-base-core)
need "$austen" && packages+=(r-cran-janeaustenr)
need "$deen" && packages+=(dict-de-en)
need_reviews && packages+=(r-cran-modeldata)
python=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c '' 2>/dev/null; then
    python=$p
    break
  fi
done
[ -n "$python" ] || packages+=(python3)

scripts/install_missing.sh "${packages[@]}"
[ -n "$python" ] || python=/usr/bin/python3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- data/austen.txt ---
# austen_books() is a data frame with columns text (one element per line of the book, "" for blank lines)
# and book (a factor whose levels are the six novels in publication order: Sense & Sensibility, Pride &
# Prejudice, Mansfield Park, Emma, Northanger Abbey, Persuasion). We write the books in that order, one blank
# line between books, as UTF-8 bytes whatever the locale (enc2utf8 + useBytes on a binary connection).
if need "$austen"; then
  echo "get_corpus: writing $austen from r-cran-janeaustenr"
  # shellcheck disable=SC2016  # the R code is meant to be single-quoted
  Rscript --vanilla -e '
    out <- commandArgs(trailingOnly = TRUE)[1]
    b <- janeaustenr::austen_books()
    con <- file(out, open = "wb")
    first <- TRUE
    for (lv in levels(b$book)) {
      if (!first) writeLines("", con, useBytes = TRUE)
      writeLines(enc2utf8(as.character(b$text[b$book == lv])), con, useBytes = TRUE)
      first <- FALSE
    }
    close(con)
  ' "$tmp/austen.txt"
  mv "$tmp/austen.txt" "$austen"
fi

# --- data/de-en.tsv ---
# dict-de-en is the Ding dictionary (TU Chemnitz, GPL-2+) converted to dictd format, in two directions.
# We read /usr/share/dictd/german-english.{index,dict.dz}, the dictionary's native direction (one entry per
# German headword). What the files hold (looked at in dict-de-en 1.9-6, Ding "devel 2023-01-30"):
#  - .index: `headword<TAB>offset<TAB>length`, one line per entry, sorted by a lower-cased, punctuation-free
#    form of the headword ("das gebe ich gerne zu"); offset and length are base64 numbers (A-Za-z0-9+/, most
#    significant digit first) into the uncompressed .dict. Every entry has exactly one index line, and the
#    entries tile the .dict with no gaps. Entries named 00database* are the dictd header (skipped).
#  - an entry in the .dict is: the headword in its real spelling ("Das gebe ich gerne zu."); then a line that
#    starts with one space holding the headword's annotations (" {n} [mus.]", " [Sprw.]") or an empty line;
#    then the translations on a line indented by three spaces, alternatives separated by "; " ("It's all just
#    a facade!; It's all a big sham!"). dictfmt wraps long lines at about 72 columns at a space, continuing on
#    unindented lines, and that happens to the headword as well as to the translations.
#  - the Ding source's "German :: English" lines with "|" between parallel sub-phrases do not appear: the
#    conversion already made one entry per German variant, so no "|" or "::" is left to split.
#  - the conversion cuts the headword at its first "{", "(" or "[" and moves the rest to the annotation line
#    ("bei jdm." + "(wegen etw.) nachhaken"), so the German side is the headword plus its annotation, except
#    that an annotation made only of tags ("[Sprw.]", "{interj}", "[ugs.]") is dictionary metadata and dropped.
# Each English alternative gives one pair. A pair is kept when both sides end in . ! or ?, have at least three
# words, contain none of / [ ] ( ) { } (slashes mean "or", the others annotations), start with no lower-case
# letter (that drops phrase entries such as "to tap sth." and pieces of a sentence that had its own ";"), and
# hold none of Ding's placeholders sb. sth. jdm. jdn. jds. jd. etw. nor " :" (the conversion also splits a
# headword at a colon: "Mombi" + " : Moment bitte!" has the English "- : One moment, please!"). Pairs are
# deduplicated and written in the order of the .dict file (Ding's own order, deterministic); consumers should
# shuffle or split at random.
if need "$deen"; then
  echo "get_corpus: writing $deen from dict-de-en"
  # dictzip is gzip-compatible: decompress once and seek by the decoded offsets.
  gzip -dc /usr/share/dictd/german-english.dict.dz >"$tmp/german-english.dict"
  "$python" - /usr/share/dictd/german-english.index "$tmp/german-english.dict" "$tmp/de-en.tsv" <<'PY'
import re
import sys

index_path, dict_path, out_path = sys.argv[1:4]
DIGITS = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def b64(s):  # dictd's base64 number, most significant digit first
    n = 0
    for c in s:
        n = n * 64 + DIGITS[c]
    return n


TAGS_ONLY = re.compile(r"^(?:\s*(?:\[[^\]]*\]|\{[^}]*\}))+\s*$")
PLACEHOLDER = re.compile(r"\b(?:sb|sth|jd[mns]?|etw)\.")
FORBIDDEN = set("/[](){}")


def sentence(s):
    return (s[-1:] in ".!?" and len(s.split()) >= 3 and not (FORBIDDEN & set(s))
            and not s[:1].islower() and not PLACEHOLDER.search(s) and " :" not in s)


def clean(s):  # one line, single spaces (joins wrapped lines; a TAB would break the TSV)
    return " ".join(s.split())


spans = []
with open(index_path, encoding="utf-8") as f:
    for line in f:
        head, off, length = line.rstrip("\n").split("\t")
        if not head.startswith("00database"):
            spans.append((b64(off), b64(length)))
spans.sort()  # the .dict's own order

pairs, seen = [], set()
with open(dict_path, "rb") as d:
    for off, length in spans:
        d.seek(off)
        lines = d.read(length).decode("utf-8").rstrip("\n").split("\n")
        # translations: from the first line indented by three spaces to the end of the entry
        t = next((i for i, x in enumerate(lines) if x.startswith("   ")), None)
        if t is None:
            continue  # a handful of malformed entries (a headword with a ":" split oddly), not sentences
        # annotation: from the first line after the headword that is empty or starts with a space
        a = next((i for i in range(1, t) if lines[i] == "" or lines[i].startswith(" ")), t)
        german, note = clean(" ".join(lines[:a])), clean(" ".join(lines[a:t]))
        if note and not TAGS_ONLY.match(note):
            german = german + " " + note
        if not sentence(german):
            continue
        for english in clean(" ".join(lines[t:])).split(";"):
            english = english.strip()
            if sentence(english) and (english, german) not in seen:
                seen.add((english, german))
                pairs.append((english, german))

with open(out_path, "w", encoding="utf-8", newline="\n") as out:
    for english, german in pairs:
        out.write(english + "\t" + german + "\n")
print(f"get_corpus: {len(pairs)} sentence pairs from {len(spans)} dictionary entries")
PY
  mv "$tmp/de-en.tsv" "$deen"
fi

# --- data/reviews.tsv, data/reviews-test.tsv ---
# modeldata's small_fine_foods (looked at in r-cran-modeldata 1.1.0) loads two tibbles, training_data (4,000
# rows) and testing_data (1,000 rows), a sample of the Stanford SNAP Amazon fine-food reviews with columns
# product (an id), review (the text) and score (a factor: "great" for a 5-star rating, else "other"). We write
# `score<TAB>review` lines in the package's own order, training_data to data/reviews.tsv and testing_data to
# data/reviews-test.tsv (the package's split, so results compare with other work on it). A tab, CR or LF in a
# review would break the TSV and becomes a space (there are none in 1.1.0). The text is otherwise untouched:
# it keeps the original reviews' HTML line breaks ("<br />") and the training set's 20 repeated reviews.
# UTF-8 bytes whatever the locale, as for Austen.
if need_reviews; then
  echo "get_corpus: writing $reviews and $reviews_test from r-cran-modeldata"
  # shellcheck disable=SC2016  # the R code is meant to be single-quoted
  Rscript --vanilla -e '
    out <- commandArgs(trailingOnly = TRUE)
    e <- new.env()
    data("small_fine_foods", package = "modeldata", envir = e)
    write_tsv <- function(d, path) {
      review <- gsub("[\t\r\n]", " ", enc2utf8(d$review), useBytes = TRUE)  # ASCII: never inside a UTF-8 sequence
      stopifnot(!anyNA(d$score), !anyNA(review), nzchar(review), validUTF8(review))
      con <- file(path, open = "wb")
      writeLines(paste0(as.character(d$score), "\t", review), con, useBytes = TRUE)
      close(con)
    }
    write_tsv(e$training_data, out[1])
    write_tsv(e$testing_data, out[2])
  ' "$tmp/reviews.tsv" "$tmp/reviews-test.tsv"
  mv "$tmp/reviews.tsv" "$reviews"
  mv "$tmp/reviews-test.tsv" "$reviews_test"
fi

report
echo "get_corpus: done in $((SECONDS - start)) s"
