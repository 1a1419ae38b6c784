#!/usr/bin/env python3
# Writes tests/data/golden_tiny.json: a tiny random GPT-2 and the logits an INDEPENDENT float64
# PyTorch implementation computes for it, so the C++ engine is checked against code it shares nothing
# with. A developer tool: needs Debian's python3-torch (/usr/bin/python3); never needed to build or test.
# Run: /usr/bin/python3 tools/make_golden.py
import json
import math
import os

import torch

CONFIG = {"vocab_size": 20, "n_ctx": 16, "n_embd": 32, "n_head": 4, "n_layer": 2}


def make_weights(cfg):
    """Seeded weights with non-trivial biases and LayerNorm parameters, rounded to float32."""
    torch.manual_seed(1234)
    V, T, C, L = cfg["vocab_size"], cfg["n_ctx"], cfg["n_embd"], cfg["n_layer"]
    n = lambda *shape, std: (torch.randn(*shape, dtype=torch.float64) * std).float()
    w = {"wte.weight": n(V, C, std=0.3), "wpe.weight": n(T, C, std=0.1)}
    for l in range(L):
        p = f"h.{l}."
        w[p + "ln_1.weight"] = 1 + n(C, std=0.1)
        w[p + "ln_1.bias"] = n(C, std=0.05)
        w[p + "attn.c_attn.weight"] = n(C, 3 * C, std=0.2)
        w[p + "attn.c_attn.bias"] = n(3 * C, std=0.05)
        w[p + "attn.c_proj.weight"] = n(C, C, std=0.2)
        w[p + "attn.c_proj.bias"] = n(C, std=0.05)
        w[p + "ln_2.weight"] = 1 + n(C, std=0.1)
        w[p + "ln_2.bias"] = n(C, std=0.05)
        w[p + "mlp.c_fc.weight"] = n(C, 4 * C, std=0.2)
        w[p + "mlp.c_fc.bias"] = n(4 * C, std=0.05)
        w[p + "mlp.c_proj.weight"] = n(4 * C, C, std=0.2)
        w[p + "mlp.c_proj.bias"] = n(C, std=0.05)
    w["ln_f.weight"] = 1 + n(C, std=0.1)
    w["ln_f.bias"] = n(C, std=0.05)
    return w


def layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(w, cfg, tokens):
    """All-position logits (T, V) of GPT-2 in float64: pre-LN blocks, causal attention, tied head."""
    W = {k: v.double() for k, v in w.items()}
    C, H = cfg["n_embd"], cfg["n_head"]
    hs = C // H
    T = len(tokens)
    x = W["wte.weight"][torch.tensor(tokens)] + W["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.view(T, H, hs).transpose(0, 1) for t in (q, k, v))  # (H, T, hs)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        x = x + gelu_tanh(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]) @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"])
    return x @ W["wte.weight"].T


def greedy(w, cfg, prompt, new_tokens):
    seq = list(prompt)
    for _ in range(new_tokens):
        logits = forward(w, cfg, seq)[-1]
        seq.append(int(torch.argmax(logits)))  # first maximum = lowest id on ties
    return seq[len(prompt):]


def main():
    w = make_weights(CONFIG)
    g = torch.Generator().manual_seed(99)
    cases = []
    for length in (1, 7, 16):
        tokens = torch.randint(0, CONFIG["vocab_size"], (length,), generator=g).tolist()
        logits = forward(w, CONFIG, tokens)
        for t in range(1, length + 1):  # causality: a prefix sees the same logits
            assert torch.allclose(forward(w, CONFIG, tokens[:t])[-1], logits[t - 1], atol=1e-12)
        cases.append({"tokens": tokens, "logits": [[float(f"{v:.9g}") for v in row] for row in logits.tolist()]})
        print(f"case length {length}: max |logit| {logits.abs().max():.3f}")
    greedy_cases = []
    for length in (1, 3, 5):
        prompt = torch.randint(0, CONFIG["vocab_size"], (length,), generator=g).tolist()
        greedy_cases.append({"prompt": prompt, "new_tokens": 8, "generated": greedy(w, CONFIG, prompt, 8)})
    out = {
        "source": "tools/make_golden.py (independent PyTorch float64 reference)",
        "config": CONFIG,
        "weights": {k: {"shape": list(v.shape), "data": [float(f"{x:.9g}") for x in v.flatten().tolist()]} for k, v in w.items()},
        "cases": cases,
        "greedy": greedy_cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden_tiny.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
