#!/usr/bin/env python3
# Our byte-level BPE in GPT-2's file format: trains merges on a text file and writes vocab.json +
# merges.txt that the engine's Gpt2BpeTokenizer (engine/text/bpe_tokenizer.cpp) loads unchanged, and
# encodes text the same way (GPT-2's pre-tokenization pattern written out by hand, rank-ordered merges).
# No special tokens (the corpus separates paragraphs with "\n"). Developer tool: never needed to build,
# run or test the app. Usage: bpe.py train --corpus train.txt --vocab 4096 --out DIR; bpe.py encode DIR TEXT
import argparse
import collections
import json
import os
import re
import sys
import unicodedata


def bytes_to_unicode():
    """GPT-2's table: printable bytes stand for themselves, the other 68 get U+0100 upward."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 256
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(extra)
            extra += 1
    return table


BYTE_CHAR = bytes_to_unicode()
# GPT-2's vocabulary order for the 256 single-byte tokens: printable ones first, then the rest
BYTE_ORDER = sorted(range(256), key=lambda b: ord(BYTE_CHAR[b]))
SPACES = {0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} | set(range(0x09, 0x0E)) | {0x20} | set(range(0x2000, 0x200B))


def char_class(ch):
    c = ord(ch)
    if c in SPACES:
        return "s"
    cat = unicodedata.category(ch)
    return "L" if cat[0] == "L" else "N" if cat[0] == "N" else "o"


# For ASCII text without U+001C..U+001F (which Python's \\s counts as space and GPT-2's does not), the
# standard re module's ASCII classes give exactly GPT-2's pieces, at C speed.
ASCII_PATTERN = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+", re.ASCII)


def pieces(text):
    """GPT-2's pattern 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+."""
    if text.isascii() and not any(c in text for c in "\x1c\x1d\x1e\x1f"):
        return ASCII_PATTERN.findall(text)
    cls = [char_class(ch) for ch in text]
    n, i, out = len(text), 0, []
    while i < n:
        j = None
        if text[i] == "'" and i + 1 < n:
            a, b = text[i + 1], text[i + 2] if i + 2 < n else ""
            if a in "stmd":
                j = i + 2
            elif a + b in ("re", "ve", "ll"):
                j = i + 3
        if j is None:
            k = i + 1 if text[i] == " " and i + 1 < n else i
            if cls[k] != "s":
                j = k
                while j < n and cls[j] == cls[k]:
                    j += 1
            else:
                j = i
                while j < n and cls[j] == "s":
                    j += 1
                if j < n and j - i >= 2:
                    j -= 1
        out.append(text[i:j])
        i = j
    return out


def to_symbols(piece):
    return tuple(BYTE_CHAR[b] for b in piece.encode("utf-8"))


def train(text, vocab_size):
    """Merges by count, ties broken by the pair's text (deterministic); pair counts kept up to date per merge."""
    words = collections.Counter(to_symbols(p) for p in pieces(text))
    words = [(list(w), c) for w, c in words.items()]
    pair_count = collections.Counter()
    where = collections.defaultdict(set)  # pair -> indices of words holding it
    for wi, (w, c) in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += c
            where[(a, b)].add(wi)
    merges = []
    while 256 + len(merges) < vocab_size and pair_count:
        count = max(pair_count.values())
        a, b = min(p for p, c in pair_count.items() if c == count)  # ties: the pair that sorts first
        if count < 2:
            break
        merges.append((a, b))
        ab = a + b
        for wi in list(where[(a, b)]):
            w, c = words[wi]
            for x, y in zip(w, w[1:]):  # remove this word's old pairs
                pair_count[(x, y)] -= c
                if pair_count[(x, y)] <= 0:
                    del pair_count[(x, y)]
            nw, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    nw.append(ab)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            words[wi] = (nw, c)
            for x, y in zip(nw, nw[1:]):
                pair_count[(x, y)] += c
                where[(x, y)].add(wi)
        del where[(a, b)]
    return merges


def save(merges, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    vocab = {BYTE_CHAR[b]: i for i, b in enumerate(BYTE_ORDER)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


class Encoder:
    """GPT-2's encoder.py bpe(): merge the lowest-ranked adjacent pair (all occurrences) until none is left."""

    def __init__(self, out_dir):
        self.vocab = json.load(open(os.path.join(out_dir, "vocab.json"), encoding="utf-8"))
        lines = open(os.path.join(out_dir, "merges.txt"), encoding="utf-8").read().split("\n")
        self.rank = {tuple(l.split(" ")): i for i, l in enumerate(x for x in lines[1:] if x)}
        self.inverse = {i: t for t, i in self.vocab.items()}
        self.byte_of = {ch: b for b, ch in BYTE_CHAR.items()}
        self.cache = {}

    def bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        w = list(to_symbols(piece))
        while len(w) > 1:
            pairs = [(self.rank.get((x, y), 1 << 30), i) for i, (x, y) in enumerate(zip(w, w[1:]))]
            r, _ = min(pairs)
            if r == 1 << 30:
                break
            a, b = next((x, y) for (x, y) in zip(w, w[1:]) if self.rank.get((x, y)) == r)
            nw, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    nw.append(a + b)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            w = nw
        ids = [self.vocab[s] for s in w]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        return [i for p in pieces(text) for i in self.bpe(p)]

    def decode(self, ids):
        return bytes(self.byte_of[ch] for i in ids for ch in self.inverse[i]).decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--corpus", required=True)
    t.add_argument("--vocab", type=int, default=4096, help="vocabulary size: 256 byte tokens + merges")
    t.add_argument("--out", required=True)
    e = sub.add_parser("encode")
    e.add_argument("dir")
    e.add_argument("text")
    args = ap.parse_args()
    if args.cmd == "train":
        merges = train(open(args.corpus, encoding="utf-8").read(), args.vocab)
        save(merges, args.out)
        print(f"{256 + len(merges)} tokens written to {args.out}")
    else:
        enc = Encoder(args.dir)
        ids = enc.encode(args.text)
        print(len(ids), "tokens:", " ".join(map(str, ids)))
        print("|".join(enc.decode([i]) for i in ids))


if __name__ == "__main__":
    sys.exit(main())
