#!/usr/bin/env python3
"""Writes data/unicode_class_ranges.h: the Unicode classes GPT-2's pre-tokenizer pattern asks about
(\\p{L}, \\p{N}, \\s) as one sorted table of range starts.

usage: scripts/gen_unicode_classes.py [UCD_DIR] > data/unicode_class_ranges.h
UCD_DIR holds UnicodeData.txt and PropList.txt; the default is Debian's unicode-data package
(/usr/share/unicode, `apt-get install unicode-data`). The version is read from PropList.txt's first line.
"""
import os
import re
import sys

OTHER, LETTER, NUMBER, SPACE = 0, 1, 2, 3
NAMES = {OTHER: "other", LETTER: "letter", NUMBER: "number", SPACE: "space"}
MAX_CP = 0x10FFFF


def read_categories(path):
    """Code point -> class for L* and N*, with UnicodeData.txt's <..., First> / <..., Last> ranges expanded."""
    classes = {}
    first = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp, name, cat = int(fields[0], 16), fields[1], fields[2]
            cls = LETTER if cat.startswith("L") else NUMBER if cat.startswith("N") else OTHER
            if name.endswith(", First>"):
                first = cp
                continue
            lo = first if name.endswith(", Last>") else cp
            first = None
            if cls != OTHER:
                for c in range(lo, cp + 1):
                    classes[c] = cls
    return classes


def read_white_space(path):
    """The White_Space property, which is what \\s means in the regex engines of tiktoken and Python's `regex`."""
    spaces = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            cps, prop = [x.strip() for x in line.split(";")]
            if prop != "White_Space":
                continue
            lo, _, hi = cps.partition("..")
            for c in range(int(lo, 16), int(hi or lo, 16) + 1):
                spaces.add(c)
    return spaces


def main():
    ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
    prop_list = os.path.join(ucd, "PropList.txt")
    with open(prop_list, encoding="utf-8") as f:
        m = re.match(r"# PropList-([0-9.]+)\.txt", f.readline())
    if not m:
        sys.exit(f"{prop_list}: first line does not name the Unicode version")
    version = m.group(1)
    classes = read_categories(os.path.join(ucd, "UnicodeData.txt"))
    for c in read_white_space(prop_list):
        if c in classes:
            sys.exit(f"U+{c:04X} is both White_Space and a letter or number")
        classes[c] = SPACE

    starts = []  # (first code point, class) wherever the class changes
    prev = None
    for c in range(MAX_CP + 1):
        cls = classes.get(c, OTHER)
        if cls != prev:
            starts.append((c, cls))
            prev = cls

    out = sys.stdout
    out.write("// Letter, number and white-space ranges of Unicode for GPT-2's pre-tokenizer (generated: do not edit).\n")
    out.write("// Made by scripts/gen_unicode_classes.py from the Unicode Character Database %s\n" % version)
    out.write("// (UnicodeData.txt: general categories L* and N*; PropList.txt: White_Space), as shipped by\n")
    out.write("// Debian's unicode-data package. Regenerate: apt-get install unicode-data, then\n")
    out.write("//   python3 scripts/gen_unicode_classes.py > data/unicode_class_ranges.h && clang-format -i data/unicode_class_ranges.h\n")
    out.write("#pragma once\n\n#include <cstdint>\n\nnamespace qkv {\n\n")
    out.write('inline constexpr char kUnicodeVersion[] = "%s";\n\n' % version)
    out.write("// Each entry is (first code point << 2) | class (0 other, 1 letter, 2 number, 3 space); a range runs\n")
    out.write("// to the next entry's first code point, the last one to U+10FFFF.\n")
    out.write("inline constexpr uint32_t kUnicodeClassStarts[] = {\n")
    row = []
    for c, cls in starts:
        row.append("0x%x" % ((c << 2) | cls))
    for i in range(0, len(row), 10):
        out.write("    " + ", ".join(row[i : i + 10]) + ",\n")
    out.write("};\n\n}  // namespace qkv\n")
    counts = {n: sum(1 for c in classes.values() if c == k) for k, n in NAMES.items() if k != OTHER}
    print("%d ranges, %s" % (len(starts), counts), file=sys.stderr)


if __name__ == "__main__":
    main()
