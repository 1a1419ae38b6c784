#!/usr/bin/env python3
# Writes tests/data/golden_llama.json: a tiny random Llama-family model (grouped-query attention, q/k/v
# biases as in Qwen2, untied LM head) and the logits an INDEPENDENT float64 PyTorch implementation,
# written here from the architecture (RMSNorm, rotate_half RoPE, repeat_kv, SwiGLU; transformers is
# not imported), computes for it. Weights are stored as Hugging Face stores them: nn.Linear (out, in),
# so the C++ test also checks the transpose a Llama loader makes. A developer tool: needs Debian's
# python3-torch (/usr/bin/python3); never needed to build or test. Run: /usr/bin/python3 tools/make_llama_golden.py
import json
import math
import os

import torch

CONFIG = {"vocab_size": 32, "n_ctx": 16, "n_embd": 32, "n_head": 4, "n_kv_head": 2, "n_layer": 2,
          "intermediate_size": 48, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "qkv_bias": True,
          "tie_word_embeddings": False}


def make_weights(cfg, seed=4321):
    """Seeded weights in HF Llama names and layouts, rounded to float32 (q/k/v biases and lm_head as cfg says)."""
    torch.manual_seed(seed)
    V, C, L, I = cfg["vocab_size"], cfg["n_embd"], cfg["n_layer"], cfg["intermediate_size"]
    KV = cfg["n_kv_head"] * C // cfg["n_head"]
    n = lambda *shape, std: (torch.randn(*shape, dtype=torch.float64) * std).float()
    w = {"model.embed_tokens.weight": n(V, C, std=0.5)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1 + n(C, std=0.1)
        for name, rows in (("q", C), ("k", KV), ("v", KV)):
            w[p + f"self_attn.{name}_proj.weight"] = n(rows, C, std=0.25)   # (out, in)
            if cfg["qkv_bias"]:
                w[p + f"self_attn.{name}_proj.bias"] = n(rows, std=0.1)
        w[p + "self_attn.o_proj.weight"] = n(C, C, std=0.2)
        w[p + "post_attention_layernorm.weight"] = 1 + n(C, std=0.1)
        w[p + "mlp.gate_proj.weight"] = n(I, C, std=0.25)
        w[p + "mlp.up_proj.weight"] = n(I, C, std=0.25)
        w[p + "mlp.down_proj.weight"] = n(C, I, std=0.2)
    w["model.norm.weight"] = 1 + n(C, std=0.1)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = n(V, C, std=0.3)
    return w


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(T, hs, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))   # (hs/2)
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]          # (T, hs/2)
    emb = torch.cat((freqs, freqs), dim=-1)                                            # (T, hs)
    return emb.cos(), emb.sin()


def repeat_kv(x, n_rep):
    """(G, T, hs) -> (G * n_rep, T, hs): query head h reads KV head h // n_rep."""
    G, T, hs = x.shape
    return x[:, None, :, :].expand(G, n_rep, T, hs).reshape(G * n_rep, T, hs)


def forward(w, cfg, tokens):
    """All-position logits (T, V) of a Llama-family model in float64."""
    W = {k: v.double() for k, v in w.items()}
    C, H, G = cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"]
    hs, eps = C // H, cfg["rms_norm_eps"]
    T = len(tokens)
    lin = lambda x, name, bias=False: x @ W[name + ".weight"].T + (W[name + ".bias"] if bias else 0)
    cos, sin = rope_cos_sin(T, hs, cfg["rope_theta"])
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = W["model.embed_tokens.weight"][torch.tensor(tokens)]
    for l in range(cfg["n_layer"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj", cfg["qkv_bias"]).view(T, H, hs).transpose(0, 1)   # (H, T, hs)
        k = lin(h, p + "self_attn.k_proj", cfg["qkv_bias"]).view(T, G, hs).transpose(0, 1)   # (G, T, hs)
        v = lin(h, p + "self_attn.v_proj", cfg["qkv_bias"]).view(T, G, hs).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // G), repeat_kv(v, H // G)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + lin(y, p + "self_attn.o_proj")
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        gate, up = lin(h, p + "mlp.gate_proj"), lin(h, p + "mlp.up_proj")
        x = x + lin(gate * torch.sigmoid(gate) * up, p + "mlp.down_proj")   # silu(g) = g * sigmoid(g)
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def main():
    w = make_weights(CONFIG)
    g = torch.Generator().manual_seed(77)
    cases = []
    for length in (1, 6, 16):
        tokens = torch.randint(0, CONFIG["vocab_size"], (length,), generator=g).tolist()
        logits = forward(w, CONFIG, tokens)
        for t in range(1, length + 1):  # causality: a prefix sees the same logits
            assert torch.allclose(forward(w, CONFIG, tokens[:t])[-1], logits[t - 1], atol=1e-12)
        cases.append({"tokens": tokens, "logits": [[float(f"{v:.9g}") for v in row] for row in logits.tolist()]})
        print(f"case length {length}: max |logit| {logits.abs().max():.3f}")
    out = {
        "source": "tools/make_llama_golden.py (independent PyTorch float64 Llama; weights in HF (out, in) layout)",
        "config": CONFIG,
        "weights": {k: {"shape": list(v.shape), "data": [float(f"{x:.9g}") for x in v.flatten().tolist()]} for k, v in w.items()},
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden_llama.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
