"""Corpus BLEU-4 over 13a-tokenized text, as mteval-v13a and sacrebleu's default (single reference, exponential
smoothing of zero n-gram counts, case-sensitive). Plain Python, no dependencies.

    corpus_bleu(hypotheses, references) -> (score, details)
    sentence_stats(hypothesis, reference), bleu_from_stats(...): the same score from per-sentence sums
"""
import math
import re
from collections import Counter

# mteval-v13a's tokenization: the language-independent part, then punctuation split off (periods and commas
# only when not between digits; a dash after a digit), then single spaces.
_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line):
    line = line.rstrip()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, repl in _RULES:
        line = pattern.sub(repl, line)
    return line.split()


def ngrams(words, n):
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def sentence_stats(hypothesis, reference, max_n=4):
    """One pair's sufficient statistics: clipped matches and totals per order, hypothesis and reference lengths.
    Corpus BLEU is a function of their sums (so a bootstrap can resample sentences without re-tokenizing)."""
    hw, rw = tokenize_13a(hypothesis), tokenize_13a(reference)
    correct, total = [0] * max_n, [0] * max_n
    for n in range(1, max_n + 1):
        hc, rc = ngrams(hw, n), ngrams(rw, n)
        correct[n - 1] = sum(min(c, rc[g]) for g, c in hc.items())
        total[n - 1] = max(0, len(hw) - n + 1)
    return correct, total, len(hw), len(rw)


def bleu_from_stats(correct, total, hyp_len, ref_len):
    """BLEU in [0, 100] from summed statistics, and its details (the brevity penalty, the precisions)."""
    max_n = len(correct)
    bp = 1.0 if hyp_len >= ref_len else (math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0)
    details = {"correct": list(correct), "total": list(total), "hyp_len": hyp_len, "ref_len": ref_len, "bp": bp}
    if not any(correct):
        return 0.0, details
    precisions, smooth = [0.0] * max_n, 1.0
    for n in range(max_n):
        if total[n] == 0:
            break
        if correct[n] == 0:  # exponential smoothing: 1/2, 1/4, ... of a match
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    log_mean = sum(math.log(p) if p > 0 else -9999999999.0 for p in precisions) / max_n
    details["precisions"] = precisions
    return bp * math.exp(log_mean), details


def corpus_bleu(hypotheses, references, max_n=4):
    """BLEU in [0, 100] and its statistics (clipped matches and totals per order, lengths, brevity penalty)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    correct, total = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for h, r in zip(hypotheses, references):
        c, t, hl, rl = sentence_stats(h, r, max_n)
        correct = [a + b for a, b in zip(correct, c)]
        total = [a + b for a, b in zip(total, t)]
        hyp_len += hl
        ref_len += rl
    return bleu_from_stats(correct, total, hyp_len, ref_len)
