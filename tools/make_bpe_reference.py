#!/usr/bin/env python3
# Writes tests/data/bpe/reference.json: ids from GPT-2's own algorithm (openai/gpt-2 encoder.py re-typed:
# the `regex` module pattern, bytes_to_unicode, rank-ordered merges) for Unicode edge cases and seeded
# random texts; with --js, marks the texts where the npm gpt-3-encoder (JavaScript) disagrees.
# Developer tool, not needed to build or test. Usage: python3 tools/make_bpe_reference.py [--js DIR]
import argparse
import json
import os
import random
import subprocess
import sys

import regex  # GPT-2 uses this module, not `re`: the two disagree about what \s is

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data', 'bpe')
PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


class Gpt2Encoder:
    def __init__(self):
        with open(os.path.join(DATA, 'vocab.json'), encoding='utf-8') as f:
            self.vocab = json.load(f)
        with open(os.path.join(DATA, 'merges.txt'), encoding='utf-8') as f:
            lines = f.read().split('\n')[1:-1]  # as encoder.py: drop the #version line and the final ''
        self.ranks = {tuple(line.split()): i for i, line in enumerate(lines)}
        self.byte_encoder = bytes_to_unicode()

    def bpe(self, word):
        word = list(word)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float('inf')))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):  # every occurrence, left to right
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def encode(self, text):
        ids = []
        for piece in PATTERN.findall(text):
            symbols = ''.join(self.byte_encoder[b] for b in piece.encode('utf-8'))
            ids.extend(self.vocab[s] for s in self.bpe(symbols))
        return ids


# Edge cases: every whitespace kind (incl. the ones Python's `re`, `regex` and JavaScript disagree on),
# contractions in odd places, combining marks, other scripts' digits, letters of every L* category.
HANDPICKED = [
    "a\x1cb", "x \x1f y", "\x1c\x1d\x1e\x1f", "a\u0085b", "a \u0085 b", "\u0085\u0085x", "\ufeffHello", "a\ufeff b",
    "a\u00a0b", "a \u00a0b", "\u2028line\u2029", "wide\u3000space", "em\u2003 dash", "tab\t\tx", "\r\n\r\nx",
    "trailing   ", "   leading", " ", "  ", "\n", "a\x0b\x0cb",
    "'s's'S 'll'LL 'reread '", "don't DON'T Don't", "''''", "' s", "it''s", "x'd've", "'", "'\n",
    "e\u0301te\u0301", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0663\u0664\u0665", "\u216b \u00bd \u00b2 \u2460",
    "\u01c5ungla \u02b0ello", "\u00ad\u200b\u200d", "\x00a\x00 \x00", "\x7f\x01\x02", "\U0001d400\U0001d7ce",
    "<|endoftext|>", " <|endoftext|> hi", "\U0001f44d\U0001f3fd \U0001f469\u200d\U0001f4bb",
    "1234567890123 3.14159 -7e10", "$$$ !!! ??? ...", "x" * 300, "ab" * 200, "\u4e2d\u6587" * 150,
]

PIECES = ["a", "Z", "q", "hello", " ", "  ", "\n", "\t", "\r", "\x0b", "\x0c", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
          "'S", "'", "7", "42", "é", "ß", "Ж", "中", "😀", "👍🏽", "!", ".", "...", ",", "\u00a0", "\u0085", "\u1680",
          "\u2003", "\u2028", "\u3000", "\ufeff", "\x1c", "\x1f", "\x00", "\x7f", "\u0301", "٣", "Ⅻ", "½", "²",
          "\u200b", "\u00ad", "ǅ", "ʰ", "\U0001F3FD", "-", "_", "$", "€"]


def random_texts(rng, count):
    texts = [''.join(rng.choice(PIECES) for _ in range(rng.randint(1, 25))) for _ in range(count)]
    # long unbroken pieces exercise the merge loop on hundreds of symbols
    for n in (200, 700, 1500):
        texts.append(''.join(rng.choice('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') for _ in range(n)))
        texts.append(''.join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n // 3)))
        texts.append(''.join(rng.choice('0123456789') for _ in range(n)))
    return texts


def js_ids(package, texts):
    script = ("const {encode}=require(process.argv[1]);let s='';process.stdin.on('data',d=>s+=d);"
              "process.stdin.on('end',()=>console.log(JSON.stringify(JSON.parse(s).map(t=>encode(t)))));")
    out = subprocess.run(['node', '-e', script, os.path.abspath(package)], input=json.dumps(texts), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--js', help='path of the npm gpt-3-encoder package, to mark where it disagrees')
    parser.add_argument('--count', type=int, default=400, help='number of random texts')
    args = parser.parse_args()
    enc = Gpt2Encoder()
    texts = HANDPICKED + random_texts(random.Random(20190214), args.count)
    cases = [{'text': t, 'ids': enc.encode(t)} for t in texts]
    if args.js:
        for case, ids in zip(cases, js_ids(args.js, texts)):
            if ids != case['ids']:
                case['gpt_3_encoder_differs'] = True
        print(sum(1 for c in cases if 'gpt_3_encoder_differs' in c), 'of', len(cases), 'texts differ in gpt-3-encoder')
    out = {
        'source': 'openai/gpt-2 encoder.py algorithm, Python %d.%d with regex %s' %
                  (sys.version_info[0], sys.version_info[1], regex.__version__),
        'cases': cases,
    }
    with open(os.path.join(DATA, 'reference.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=True)
    print('wrote', len(cases), 'cases')


if __name__ == '__main__':
    main()
