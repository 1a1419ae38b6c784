// Writes tests/data/tokenizer_json/split_golden.json: how the pre-tokenizer patterns of tokenizer.json
// files (GPT-2, Llama-3, Qwen2 Splits, copied verbatim, and SmolLM2's Digits + ByteLevel) cut tricky and
// seeded random texts, computed by JavaScript's own regex engine (/u: real \p{L} and \p{N}): an
// independent check of kvlab's hand-written splitters (engine/text/bpe_tokenizer.cpp). Node 20's V8 has
// no inline modifier (?i:...), so that leading group runs as its own /iu regex, tried first at each
// position, which is what the alternation means. Developer tool; the tests never run node.
// Usage: node tools/make_tokenizer_json_goldens.js
'use strict';
const fs = require('fs');
const path = require('path');

const GPT2 = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const LLAMA3 = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2 = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

// A pattern as a list of sticky regexes tried in order at each position (the (?i:...) group first).
function compile(pattern) {
  const m = /^\(\?i:([^()]*)\)\|/.exec(pattern);
  const parts = m ? [new RegExp(m[1], 'iuy'), new RegExp(pattern.slice(m[0].length), 'uy')] : [new RegExp(pattern, 'uy')];
  return parts;
}

// tokenizers' Split with behavior Isolated: the matches, and any text between them, in order.
function splitIsolated(parts, text) {
  const pieces = [];
  let from = 0;
  for (let q = 0; q < text.length;) {
    let match = null;
    for (const re of parts) {
      re.lastIndex = q;
      const r = re.exec(text);
      if (r && r[0].length > 0) { match = r[0]; break; }
    }
    if (match === null) { q += text.codePointAt(q) > 0xffff ? 2 : 1; continue; }
    if (q > from) pieces.push(text.slice(from, q));
    pieces.push(match);
    q += match.length;
    from = q;
  }
  if (from < text.length) pieces.push(text.slice(from));
  return pieces;
}

// Digits(individual_digits: true): every \p{N} character alone, the text between as one stretch;
// then ByteLevel's GPT-2 regex on each stretch.
function splitDigitsThenGpt2(parts, text) {
  const stretches = text.match(/\p{N}|[^\p{N}]+/gu) || [];
  return stretches.flatMap((s) => splitIsolated(parts, s));
}

const tricky = [
  "I'm sure they'll say it's fine, we've done it, I'd agree. DON'T SHOUT, We'RE here",
  "'s's 'ſ 'Ll 'lL x'dy ''s '",
  "x'ſ y'LL z'Ve w'RE v'M u'D t'T it'sx",
  '1 12 123 1234 12345 1234567 3.14159 1,000,000 ٣٤٥٦ ²³ ⅫⅩ ½',
  'a\nb\n\nc\r\nd\n \n  e  \n\n\n',
  'a  b   c    d\t\te \t f  ',
  '   leading and trailing   ',
  '\n\n\nstart with newlines',
  'ends with newline\n',
  'ends with spaces   ',
  'Привет, мир! 你好世界。 naïve café Ångström ǅemal ʰa',
  'Hello!!! ... ?! (really) [sic] {x: 1} --> "quoted" ...\n',
  '(hello) "world" \'single\' `code` #tag @user $5 100%',
  'def f(x):\n    return x**2  # comment\n\n',
  'tab\tbefore\tword and\u00A0nbsp\u3000ideographic',
  'e\u0301 combining, x\u0301\u0302y',
  'emoji 👍🏽 🎉🤖! 😀😀',
  '!!!\n\n  ???\r\n',
  '_under_score__ snake_case CamelCase',
  'line\u2028separator',
  '12ab34 a1b2c3 x123456y',
];

const pool = ['a', 'Z', 'é', 'ß', 'Ж', '中', '😀', '7', '42', '٣', '²', 'Ⅻ', '½', '𝟘', 'ǅ', 'ʰ', ' ', '  ', '\t', '\n', '\r\n',
  '\r', '\u00A0', '\u3000', '\u2028', "'", "'s", "'S", "'ll", "'LL", "'Re", "'ſ", '!', '...', '"', '(', ')', '-', '—', '\u0301',
  '_', '$', '12345', ' 123', '\u200B', 'word', ' the', 'DON', '.\n'];
let seed = 7;
function rand(n) { // xorshift32, so the file is the same every run
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
const texts = tricky.slice();
for (let i = 0; i < 150; ++i) {
  let s = '';
  for (let k = 0; k < 12; ++k) s += pool[rand(pool.length)];
  texts.push(s);
}

const patterns = { gpt2: compile(GPT2), llama3: compile(LLAMA3), qwen2: compile(QWEN2) };
const cases = [];
for (const text of texts) {
  for (const [name, parts] of Object.entries(patterns)) cases.push({ pattern: name, text, pieces: splitIsolated(parts, text) });
  cases.push({ pattern: 'smollm2', text, pieces: splitDigitsThenGpt2(patterns.gpt2, text) });
}
for (const c of cases) {
  if (c.pieces.join('') !== c.text) throw new Error('pieces do not tile the text: ' + JSON.stringify(c));
}
const out = path.join(__dirname, '..', 'tests', 'data', 'tokenizer_json');
fs.mkdirSync(out, { recursive: true });
const source = `node ${process.version} (Unicode ${process.versions.unicode}) RegExp /u, tools/make_tokenizer_json_goldens.js`;
fs.writeFileSync(path.join(out, 'split_golden.json'), JSON.stringify({ source, patterns: { gpt2: GPT2, llama3: LLAMA3, qwen2: QWEN2 }, cases }, null, 0) + '\n');
console.log('wrote', cases.length, 'cases to', out);
