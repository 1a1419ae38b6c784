#!/usr/bin/env python3
# Measures a trained word-piece model (GPT-2, or a Llama from train_default.py --arch llama) the way
# tests/test_default_model.cpp does, in PyTorch, so a training run can be judged before the model is
# copied into assets/: the share of dictionary words at
# temperature 0.8 (5 teacher prompts x seeds 1-3 x 60 tokens), the greedy repeated word 4-gram share
# (first 60 words), and perplexity on a text file. The C++ test is the one that counts (its sampler
# draws other random numbers); this is a developer tool, never needed to build, run or test the app.
import argparse
import json
import math
import os
import re
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from train_default import GPT, Llama, hf_llama_state  # noqa: E402

PROMPTS = ["Once upon a time", "The cache", "Hello, my name is", "Memoization means", "The teacher said"]
# --more-prompts: 15 more openings a teacher or student might type, because one looping prompt moves a
# five-prompt mean by ~0.1 (tools/train/README.md, session 10); the C++ test still uses PROMPTS.
MORE_PROMPTS = ["In the morning", "My favourite book", "The computer", "A good question is", "Yesterday we",
                "The students", "When the file", "There are three ways", "The history of", "If you want to",
                "The best way to learn", "Today the weather", "The program", "She opened the door", "Remember that"]


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    tensors = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dtype = torch.float16 if v["dtype"] == "F16" else torch.float32
        tensors[k] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=dtype).view(v["shape"]).float()
    return tensors


def load_llama(cfg, tensors):
    """A LlamaForCausalLM directory written by train_default.py --arch llama (tied head, no biases)."""
    cfg["n_ctx"] = cfg["max_position_embeddings"]
    model = Llama(cfg["vocab_size"], cfg["n_ctx"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                  cfg.get("num_key_value_heads", cfg["num_attention_heads"]), cfg["intermediate_size"],
                  theta=cfg.get("rope_theta", 10000.0), eps=cfg.get("rms_norm_eps", 1e-5))
    with torch.no_grad():
        for name, t in hf_llama_state(model).items():  # state_dict tensors share the parameters' storage
            t.copy_(tensors[name])
    model.eval()
    return model, cfg


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    if cfg.get("model_type") == "llama":
        return load_llama(cfg, tensors)
    model = GPT(cfg["vocab_size"], cfg["n_ctx"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"])
    with torch.no_grad():
        model.wte.weight.copy_(tensors["wte.weight"])
        model.wpe.weight.copy_(tensors["wpe.weight"])
        for i, blk in enumerate(model.h):
            p = f"h.{i}."
            pairs = [(blk.ln_1, "ln_1", False), (blk.ln_2, "ln_2", False), (blk.c_attn, "attn.c_attn", True),
                     (blk.attn_proj, "attn.c_proj", True), (blk.c_fc, "mlp.c_fc", True), (blk.mlp_proj, "mlp.c_proj", True)]
            for mod, name, conv1d in pairs:
                w = tensors[p + name + ".weight"]
                mod.weight.copy_(w.T if conv1d else w)
                mod.bias.copy_(tensors[p + name + ".bias"])
        model.ln_f.weight.copy_(tensors["ln_f.weight"])
        model.ln_f.bias.copy_(tensors["ln_f.bias"])
    model.eval()
    return model, cfg


def clean_words(text):
    out = []
    for w in text.split():
        w = re.sub(r"^[^\w]+|[^\w]+$", "", w).lower()
        if w:
            out.append(w)
    return out


def repeated_4gram_share(words):
    if len(words) < 4:
        return 0.0
    seen, repeats = set(), 0
    for i in range(len(words) - 3):
        g = tuple(words[i:i + 4])
        repeats += g in seen
        seen.add(g)
    return repeats / (len(words) - 3)


@torch.no_grad()
def generate(model, enc, T, prompt, steps, temperature=0.0, gen=None, until_words=0):
    ids = enc.encode(prompt)
    out = []
    while len(ids) < T:
        logits = model(torch.tensor([ids]))[0, -1]
        if temperature == 0.0:
            nxt = int(logits.argmax())
        else:
            nxt = int(torch.multinomial((logits / temperature).softmax(-1), 1, generator=gen))
        ids.append(nxt)
        out.append(nxt)
        text = enc.decode(out)
        if (until_words and len(clean_words(text)) >= until_words + 1) or (not until_words and len(out) >= steps):
            break
    return enc.decode(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--text", default="", help="held-out text for perplexity (one paragraph per line)")
    ap.add_argument("--more-prompts", action="store_true", help="greedy repetition also over 15 more prompts (20 in all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg = load(args.model_dir)
    enc = bpe.Encoder(args.model_dir)
    T = cfg["n_ctx"]
    words = {w.strip().lower() for w in open("/usr/share/dict/words", encoding="utf-8", errors="ignore")}
    found = total = 0
    for seed in (1, 2, 3):
        gen = torch.Generator().manual_seed(seed)
        for p in PROMPTS:
            for w in clean_words(generate(model, enc, T, p, 60, 0.8, gen)):
                total += 1
                found += w in words
    print(f"temperature 0.8: {found} of {total} words in the dictionary = {100 * found / max(1, total):.1f}%")
    shares = []
    for p in PROMPTS + (MORE_PROMPTS if args.more_prompts else []):
        text = generate(model, enc, T, p, 0, until_words=60)
        shares.append(repeated_4gram_share(clean_words(text)[:60]))
        print(f"  greedy {shares[-1]:.2f} | {p}{text[:160]!r}")
    print(f"greedy repeated 4-gram share: {sum(shares[:len(PROMPTS)]) / len(PROMPTS):.3f} (the test's 5 prompts)")
    if args.more_prompts:
        print(f"greedy repeated 4-gram share over {len(shares)} prompts: {sum(shares) / len(shares):.3f} "
              f"(per prompt {min(shares):.2f}-{max(shares):.2f}; {sum(s > 0.3 for s in shares)} prompts above 0.30)")
    if args.text:
        nll = n = 0
        for line in open(args.text, encoding="utf-8"):
            ids = enc.encode(line.rstrip("\n") + "\n")[:T + 1]
            if len(ids) < 2:
                continue
            logits = model(torch.tensor([ids[:-1]]))[0]
            nll += F.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()
            n += len(ids) - 1
        print(f"held-out perplexity: {math.exp(nll / n):.1f} over {n} tokens")


if __name__ == "__main__":
    main()
