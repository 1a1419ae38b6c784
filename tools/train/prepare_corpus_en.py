#!/usr/bin/env python3
# Builds the English corpus of the default model from installed Debian packages: WordNet's example
# sentences and (capped, see --gloss-share) glosses (wordnet-base), the prose paragraphs of the Debian
# Administrator's Handbook (debian-handbook, en-US), the unindented prose of Python's documentation
# (python3-doc: tutorial, FAQ, HOWTOs, library and language reference, "using", glossary), GNOME's
# desktop help (gnome-user-docs) and fortunes-min. Writes train.txt, val.txt and heldout.txt (one
# paragraph per line, ASCII) into --out. Deterministic (fixed seed, sorted file lists). Developer tool:
# never needed to build, run or test.
import argparse
import glob
import html
import html.parser
import os
import random
import re
import unicodedata

WORDNET = "/usr/share/wordnet"
HANDBOOK = "/usr/share/doc/debian-handbook/html/en-US"
PYDOC = "/usr/share/doc/python3-doc/html/_sources"
GNOME_HELP = "/usr/share/help/C"
FORTUNES = "/usr/share/games/fortunes"
DICT = "/usr/share/dict/words"

ASCII_FIX = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": " - ", "\u2013": "-",
             "\u2026": "...", "\u00a0": " ", "\u2192": "->", "\u00d7": "x"}


def to_ascii(s):
    for k, v in ASCII_FIX.items():
        s = s.replace(k, v)
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", s).strip()


def dictionary_share(line, words):
    toks = [t.strip(".,;:!?\"'()[]") for t in line.split()]
    toks = [t for t in toks if t]
    if not toks:
        return 0.0
    return sum(t.lower() in words for t in toks) / len(toks)


def wordnet_lines():
    """('A teacher is a person whose occupation is teaching.', ...) and the example sentences."""
    out, examples_out = [], []
    for pos, kind in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
        for line in open(os.path.join(WORDNET, "data." + pos), encoding="latin-1"):
            if line.startswith("  ") or "|" not in line:
                continue  # licence header
            fields, gloss = line.split("|", 1)
            lemma = fields.split()[4].replace("_", " ")
            lemma = re.sub(r"\(.*?\)$", "", lemma)  # adjective markers such as (a) or (p)
            parts = [p.strip() for p in gloss.split(";")]
            definition = parts[0].strip().rstrip(".")
            examples = [p.strip().strip('"').strip() for p in parts[1:] if p.strip().startswith('"')]
            if definition and not definition.startswith('"') and len(lemma) > 1:
                if kind == "n":
                    art = "An" if lemma[0].lower() in "aeiou" else "A"
                    art = "" if lemma[0].isupper() else art + " "
                    out.append(f"{art}{lemma} is {definition}.")
                elif kind == "v":
                    out.append(f"To {lemma} is to {definition}.")
                else:
                    out.append(f"{lemma[0].upper() + lemma[1:]} means {definition}.")
            for ex in examples:
                if len(ex.split()) >= 3:
                    ex = ex[0].upper() + ex[1:]
                    examples_out.append(ex if ex[-1] in ".!?" else ex + ".")
    return out, examples_out


class ParaExtractor(html.parser.HTMLParser):
    """Text of the handbook's <div class="para"> blocks, without nested code listings."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth, self.skip, self.buf, self.paras = 0, 0, [], []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            if tag == "div":
                self.depth += 1
            if tag in ("pre", "table"):
                self.skip += 1
        elif tag == "div" and ("class", "para") in attrs:
            self.depth, self.buf = 1, []

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag in ("pre", "table"):
            self.skip -= 1
        if tag == "div":
            self.depth -= 1
            if not self.depth:
                self.paras.append("".join(self.buf))

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.buf.append(data)


def handbook_docs():
    out = []
    for path in sorted(glob.glob(os.path.join(HANDBOOK, "*.html"))):
        p = ParaExtractor()
        p.feed(open(path, encoding="utf-8").read())
        out.append(p.paras)
    return out


def rst_prose(text):
    """Unindented paragraphs of an .rst file, markup removed; code, directives and tables dropped."""
    paras, cur = [], []
    for line in text.split("\n") + [""]:
        if not line.strip() or line[0] in " \t" or line.startswith(("..", ">>>", "|", "+-", "=", "-", "*", "#")):
            if cur:
                paras.append(" ".join(cur))
            cur = []
            continue
        cur.append(line.strip())
    out = []
    for p in paras:
        if p.endswith("::"):
            p = p[:-1]
        p = re.sub(r":[a-z:]+:`~?!?([^`<]*?)(?: <[^>]*>)?`", r"\1", p)  # :role:`text <target>`
        p = re.sub(r"`([^`<]*?)(?: <[^>]*>)?`_+", r"\1", p)  # `link <url>`_
        p = p.replace("``", "").replace("**", "").replace("`", "")
        p = re.sub(r"(?<!\w)\*(\S[^*]*?)\*", r"\1", p)
        out.append(p)
    return out


def pydoc_docs():
    out = []
    for sub in ("tutorial", "faq", "howto", "library", "reference", "using"):
        for path in sorted(glob.glob(os.path.join(PYDOC, sub, "*.rst.txt"))):
            out.append(rst_prose(open(path, encoding="utf-8").read()))
    out.append(rst_prose(open(os.path.join(PYDOC, "glossary.rst.txt"), encoding="utf-8").read()))
    return out


class MallardExtractor(html.parser.HTMLParser):
    """Text of the <p> blocks of a GNOME help page (Mallard XML), without code and media."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth, self.skip, self.buf, self.paras = 0, 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "p" and not self.depth:
            self.depth, self.buf = 1, []
        elif tag in ("code", "cmd", "media", "key", "info", "if:when"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("code", "cmd", "media", "key", "info", "if:when"):
            self.skip = max(0, self.skip - 1)
        elif tag == "p" and self.depth:
            self.depth = 0
            self.paras.append("".join(self.buf))

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.buf.append(data)


def gnome_help_docs():
    out = []
    for path in sorted(glob.glob(os.path.join(GNOME_HELP, "*", "*.page"))):
        p = MallardExtractor()
        p.feed(open(path, encoding="utf-8").read())
        out.append(p.paras)
    return out


def fortune_docs():
    """Each fortune of fortunes-min's files (fortunes, literature, riddles), attributions dropped."""
    out = []
    for name in ("fortunes", "literature", "riddles"):
        path = os.path.join(FORTUNES, name)
        if not os.path.exists(path):
            continue
        for entry in open(path, encoding="utf-8", errors="ignore").read().split("\n%\n"):
            lines = [l for l in entry.split("\n") if l.strip() and not l.strip().startswith("--")]
            out.append([" ".join(l.strip() for l in lines)])
    return out


def chunk(paragraphs, line_words):
    """Consecutive paragraphs joined into lines of at most line_words words (a longer paragraph stays whole)."""
    lines, cur, n = [], [], 0
    for p in paragraphs:
        w = len(p.split())
        if cur and n + w > line_words:
            lines.append(" ".join(cur))
            cur, n = [], 0
        cur.append(p)
        n += w
    if cur:
        lines.append(" ".join(cur))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/kvlab-corpus-en")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--min-dictionary", type=float, default=0.95,
                    help="keep a paragraph only if this share of its words is in /usr/share/dict/words")
    ap.add_argument("--gloss-share", type=float, default=0.0,
                    help="WordNet glosses at most this share of the corpus's bytes (they pull every prompt "
                         "toward dictionary definitions)")
    ap.add_argument("--opening-cap", type=int, default=12,
                    help="at most this many paragraphs open with the same three words: a tiny model decoded "
                         "greedily falls into the most common opening after every full stop")
    ap.add_argument("--line-words", type=int, default=120,
                    help="consecutive paragraphs of a document (or shuffled example sentences) joined into "
                         "lines of about this many words, so the model learns that text goes on and does "
                         "not start over")
    args = ap.parse_args()
    words = {w.strip().lower() for w in open(DICT, encoding="utf-8", errors="ignore")}
    glosses, examples = wordnet_lines()
    rng = random.Random(args.seed)
    rng.shuffle(examples)
    rng.shuffle(glosses)
    # each source is a list of documents, each a list of paragraphs in reading order
    sources = {"wordnet-examples": [examples], "handbook": handbook_docs(), "pydoc": pydoc_docs(),
               "gnome-help": gnome_help_docs(), "fortunes": fortune_docs(), "wordnet-glosses": [glosses]}
    lines, stats, seen, openings = [], {}, set(), {}
    for name, docs in sources.items():
        n_raw = sum(len(d) for d in docs)
        budget = None
        if name == "wordnet-glosses":  # last: capped against what the others add up to
            others = sum(b for _, _, b in stats.values())
            budget = args.gloss_share / (1 - args.gloss_share) * others
        kept_n, kept_bytes = 0, 0
        for doc in docs:
            kept = []
            for s in doc:
                s = to_ascii(html.unescape(s))
                if len(s.split()) < 4 or s in seen or dictionary_share(s, words) < args.min_dictionary:
                    continue
                opening = " ".join(s.split()[:3]).lower()
                if openings.get(opening, 0) >= args.opening_cap:
                    continue
                if budget is not None and kept_bytes + len(s) + 1 > budget:
                    break
                openings[opening] = openings.get(opening, 0) + 1
                seen.add(s)
                kept.append(s)
                kept_bytes += len(s) + 1
            kept_n += len(kept)
            lines.extend(chunk(kept, args.line_words))
        stats[name] = (n_raw, kept_n, kept_bytes)
    rng.shuffle(lines)
    os.makedirs(args.out, exist_ok=True)
    n_val = len(lines) // 100
    heldout, val, train = lines[:40], lines[:n_val], lines[n_val:]
    for name, part in (("train.txt", train), ("val.txt", val), ("heldout.txt", heldout)):
        with open(os.path.join(args.out, name), "w") as f:
            f.write("\n".join(part) + "\n")
    for name, (n_raw, n_kept, n_bytes) in stats.items():
        print(f"{name}: {n_raw} paragraphs, {n_kept} kept, {n_bytes / 1e6:.2f} MB")
    print(f"train {len(train)} lines, val {len(val)} lines (heldout.txt = its first 40) in {args.out}")


if __name__ == "__main__":
    main()
