#!/usr/bin/env python3
# Writes tests/data/llama_interop/: three tiny random Llama-family models saved as Hugging Face model
# directories (config.json, safetensors in HF names and nn.Linear (out, in) layout, tokenizer.json,
# tokenizer_config.json), and reference.json with last-position logits and greedy continuations from
# the independent float64 PyTorch Llama in make_llama_golden.py. The three cover what a loader meets:
#   qwen2_gqa_f32   Qwen2ForCausalLM, 4 heads / 2 KV heads, q/k/v biases, untied head, F32, two shards
#   llama_mqa_f16   LlamaForCausalLM, 4 heads / 1 KV head, tied head (no lm_head tensor), F16, BOS
#   llama_mha_bf16  LlamaForCausalLM, 4 heads / 4 KV heads, untied head, BF16, rope_theta 500000
# Developer tool (needs /usr/bin/python3 with torch); never needed to build or test.
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_interop import write_safetensors  # noqa: E402
from make_llama_golden import forward, make_weights  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "llama_interop")
V, T, C, L, I = 272, 64, 32, 2, 48   # vocab (263 tokens used), context, width, layers, MLP width
BOS = "<|begin_of_text|>"

MODELS = {
    "qwen2_gqa_f32": {"arch": "Qwen2ForCausalLM", "type": "qwen2", "dtype": "F32", "G": 2, "bias": True,
                      "tie": False, "theta": 1000000.0, "eps": 1e-6, "shards": 2, "bos": False},
    "llama_mqa_f16": {"arch": "LlamaForCausalLM", "type": "llama", "dtype": "F16", "G": 1, "bias": False,
                      "tie": True, "theta": 10000.0, "eps": 1e-5, "shards": 1, "bos": True},
    "llama_mha_bf16": {"arch": "LlamaForCausalLM", "type": "llama", "dtype": "BF16", "G": 4, "bias": False,
                       "tie": False, "theta": 500000.0, "eps": 1e-6, "shards": 1, "bos": False},
}


def config_of(m):
    """The dictionary make_llama_golden.forward reads."""
    return {"vocab_size": V, "n_ctx": T, "n_embd": C, "n_head": 4, "n_kv_head": m["G"], "n_layer": L,
            "intermediate_size": I, "rope_theta": m["theta"], "rms_norm_eps": m["eps"], "qkv_bias": m["bias"],
            "tie_word_embeddings": m["tie"]}


def rounded(w, dtype):
    """The numbers the engine will read: the file's dtype, widened back."""
    t = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    return {k: v.to(t).float() for k, v in w.items()}


def greedy(w, cfg, prompt, steps):
    tokens = list(prompt)
    for _ in range(steps):
        tokens.append(int(forward(w, cfg, tokens)[-1].argmax()))
    return tokens[len(prompt):]


def byte_symbols():
    """GPT-2's bytes_to_unicode order: the printable bytes first, then the rest mapped from 256 on."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    return [chr(b) for b in keep] + [chr(256 + i) for i in range(256 - len(keep))]


def tokenizer_files(d, with_bos):
    vocab = {s: i for i, s in enumerate(byte_symbols())}
    merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["Ġ", "a"], ["i", "n"], ["Ġ", "c"]]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    pattern = json.load(open(os.path.join(HERE, "..", "tests", "data", "tokenizer_json", "split_golden.json")))["patterns"]["llama3"]
    byte_level = lambda prefix, regex: {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True, "use_regex": regex}
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": len(vocab), "content": BOS, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True}],
           "normalizer": None,
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
               byte_level(False, False)]},
           "post_processor": None, "decoder": byte_level(True, True),
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": vocab, "merges": merges}}
    assert len(vocab) + 1 <= V
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": BOS if with_bos else None, "add_bos_token": with_bos}, f)


def write_dir(name, m, w):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg = {"architectures": [m["arch"]], "model_type": m["type"], "vocab_size": V, "hidden_size": C,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": 4, "num_key_value_heads": m["G"],
           "max_position_embeddings": T, "rms_norm_eps": m["eps"], "rope_theta": m["theta"], "rope_scaling": None,
           "hidden_act": "silu", "tie_word_embeddings": m["tie"], "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[m["dtype"]]}
    if m["type"] == "llama":
        cfg.update({"attention_bias": False, "mlp_bias": False, "head_dim": C // 4})
    else:
        cfg.update({"use_sliding_window": False, "sliding_window": None})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tokenizer_files(d, m["bos"])
    if m["shards"] == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), w, m["dtype"])
        return
    names = sorted(w)
    parts = [names[i::m["shards"]] for i in range(m["shards"])]   # interleaved: every layer spans both files
    weight_map = {}
    for i, part in enumerate(parts):
        file = f"model-{i + 1:05d}-of-{m['shards']:05d}.safetensors"
        write_safetensors(os.path.join(d, file), {k: w[k] for k in part}, m["dtype"])
        weight_map.update({k: file for k in part})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(v.numel() for v in w.values()) * 4}, "weight_map": weight_map}, f, indent=2)


def main():
    ref = {"source": "tools/make_llama_interop.py (independent float64 PyTorch Llama of make_llama_golden.py)"}
    g = torch.Generator().manual_seed(11)
    prompts = [torch.randint(0, 263, (n,), generator=g).tolist() for n in (1, 5, 12, 30)]
    for seed, (name, m) in enumerate(MODELS.items()):
        cfg = config_of(m)
        w = make_weights(cfg, 100 + seed)
        write_dir(name, m, w)
        wr = rounded(w, m["dtype"])
        ref[name] = [{"prompt": p, "last_logits": [float(f"{v:.9g}") for v in forward(wr, cfg, p)[-1].tolist()],
                      "greedy": greedy(wr, cfg, p, 8)} for p in prompts]
        print(name, "greedy after", len(prompts[1]), "tokens:", ref[name][1]["greedy"])
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
