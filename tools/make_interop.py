#!/usr/bin/env python3
# Writes tests/data/interop/: a tiny random GPT-2 saved as Hugging Face model directories in both
# tensor layouts (hub names, and save_pretrained's "transformer." names with lm_head and attention
# buffers), in F32, F16 and BF16, plus reference logits and greedy continuations from the independent
# float64 PyTorch forward in make_golden.py. Developer tool (needs /usr/bin/python3 with torch).
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import forward, greedy  # noqa: E402

CONFIG = {"vocab_size": 96, "n_ctx": 32, "n_embd": 32, "n_head": 4, "n_layer": 2}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "interop")
CHARS = ["\n"] + [chr(c) for c in range(32, 127)]


def make_weights():
    torch.manual_seed(4321)
    V, T, C, L = CONFIG["vocab_size"], CONFIG["n_ctx"], CONFIG["n_embd"], CONFIG["n_layer"]
    n = lambda *shape, std: (torch.randn(*shape, dtype=torch.float64) * std).float()
    w = {"wte.weight": n(V, C, std=0.3), "wpe.weight": n(T, C, std=0.1)}
    for l in range(L):
        p = f"h.{l}."
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = 1 + n(C, std=0.1), n(C, std=0.05)
        w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"] = n(C, 3 * C, std=0.2), n(3 * C, std=0.05)
        w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"] = n(C, C, std=0.2), n(C, std=0.05)
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = 1 + n(C, std=0.1), n(C, std=0.05)
        w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"] = n(C, 4 * C, std=0.2), n(4 * C, std=0.05)
        w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"] = n(4 * C, C, std=0.2), n(C, std=0.05)
    w["ln_f.weight"], w["ln_f.bias"] = 1 + n(C, std=0.1), n(C, std=0.05)
    return w


def write_safetensors(path, tensors, dtype):
    """Our own writer: 8-byte LE header length, JSON header (offsets relative to the data), raw data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        if dtype == "BF16":  # numpy has no bfloat16: reinterpret the 16-bit patterns
            raw = t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
        else:
            raw = t.to(torch.float16 if dtype == "F16" else torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_dir(name, tensors, dtype):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": CONFIG["vocab_size"],
           "n_positions": CONFIG["n_ctx"], "n_ctx": CONFIG["n_ctx"], "n_embd": CONFIG["n_embd"],
           "n_layer": CONFIG["n_layer"], "n_head": CONFIG["n_head"], "n_inner": None,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(d, "kvlab_chars.json"), "w") as f:
        json.dump(CHARS, f)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype)


def references(w, prompts):
    out = []
    for p in prompts:
        logits = forward(w, CONFIG, p)[-1]
        out.append({"prompt": p, "last_logits": [float(f"{v:.9g}") for v in logits.tolist()],
                    "greedy": greedy(w, CONFIG, p, 8)})
    return out


def main():
    w = make_weights()
    write_dir("hub_f32", w, "F32")
    pretrained = {"transformer." + k: v for k, v in w.items()}
    pretrained["lm_head.weight"] = w["wte.weight"]
    for l in range(CONFIG["n_layer"]):  # buffers that GPT2LMHeadModel checkpoints may carry
        T = CONFIG["n_ctx"]
        pretrained[f"transformer.h.{l}.attn.bias"] = torch.tril(torch.ones(1, 1, T, T))
        pretrained[f"transformer.h.{l}.attn.masked_bias"] = torch.tensor(-1e4)
    write_dir("pretrained_f32", pretrained, "F32")
    write_dir("hub_f16", w, "F16")
    write_dir("hub_bf16", w, "BF16")
    w16 = {k: v.half().float() for k, v in w.items()}  # the F16 directory's own reference
    wbf16 = {k: v.bfloat16().float() for k, v in w.items()}
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(0, CONFIG["vocab_size"], (n,), generator=g).tolist() for n in (1, 4, 9, 20)]
    ref = {"source": "tools/make_interop.py (independent float64 PyTorch forward)", "config": CONFIG,
           "f32": references(w, prompts), "f16": references(w16, prompts), "bf16": references(wbf16, prompts)}
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
