#!/usr/bin/env python3
# Trains KV Cache Lab's shipped models: a small GPT-2 (the engine's exact architecture; --arch gpt2) or
# a small Llama (--arch llama: RMSNorm, RoPE, SwiGLU, --kv-heads G grouped-query attention, tied head)
# on a corpus, with either our byte-level BPE (--tokenizer DIR from bpe.py: the default and llama
# models) or one token per character (the char model), and saves a Hugging Face directory
# (config.json, model.safetensors, vocab.json + merges.txt or kvlab_chars.json) that the app's loader
# reads. Developer tool: needs Debian's python3-torch (/usr/bin/python3); never needed to build, run or test.
import argparse
import json
import math
import os
import shutil
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402  (our tokenizer, next to this file)

CHARS = ["\n"] + [chr(c) for c in range(32, 127)]  # the engine's printable-ASCII vocabulary


def causal_attention(q, k, v):
    """softmax(q k^T / sqrt(hs), causal) v on (B, heads, T, hs); torch 1.13 (Debian 12) has no SDPA."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")).softmax(-1) @ v


class Block(nn.Module):
    def __init__(self, C, H, dropout=0.0):
        super().__init__()
        self.H = H
        self.drop = nn.Dropout(dropout)  # residual dropout (nanoGPT's); identity when 0 or in eval()
        self.ln_1, self.ln_2 = nn.LayerNorm(C, eps=1e-5), nn.LayerNorm(C, eps=1e-5)
        self.c_attn, self.attn_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        y = causal_attention(q, k, v)
        x = x + self.drop(self.attn_proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, V, T, C, L, H, dropout=0.0):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(C, H, dropout) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        for name, p in self.named_parameters():  # GPT-2 initialisation
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L) if name.endswith("proj.weight") else 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])))
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.T  # LM head tied to wte


class RMSNorm(nn.Module):
    def __init__(self, C, eps):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(C))

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    """Hugging Face's rotate-half RoPE on (B, heads, T, hs): pair i is (x[i], x[i + hs/2])."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class LlamaBlock(nn.Module):
    def __init__(self, C, H, G, I, eps, dropout=0.0):
        super().__init__()
        self.H, self.G, self.hs = H, G, C // H
        self.drop = nn.Dropout(dropout)
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(C, eps), RMSNorm(C, eps)
        self.q_proj, self.o_proj = nn.Linear(C, C, bias=False), nn.Linear(C, C, bias=False)
        self.k_proj, self.v_proj = nn.Linear(C, G * self.hs, bias=False), nn.Linear(C, G * self.hs, bias=False)
        self.gate_proj, self.up_proj = nn.Linear(C, I, bias=False), nn.Linear(C, I, bias=False)
        self.down_proj = nn.Linear(I, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.H, self.hs).transpose(1, 2)              # (B, H, T, hs)
        k = self.k_proj(h).view(B, T, self.G, self.hs).transpose(1, 2)              # (B, G, T, hs)
        v = self.v_proj(h).view(B, T, self.G, self.hs).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k, v = k.repeat_interleave(self.H // self.G, dim=1), v.repeat_interleave(self.H // self.G, dim=1)  # head h reads h // (H/G)
        y = causal_attention(q, k, v)
        x = x + self.drop(self.o_proj(y.transpose(1, 2).reshape(B, T, C)))
        h = self.post_attention_layernorm(x)
        return x + self.drop(self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h)))


class Llama(nn.Module):
    """Hugging Face LlamaForCausalLM's computation with tied embeddings and no biases."""
    def __init__(self, V, T, C, L, H, G, I, theta=10000.0, eps=1e-5, dropout=0.0):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, C)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(LlamaBlock(C, H, G, I, eps, dropout) for _ in range(L))
        self.norm = RMSNorm(C, eps)
        hs = C // H
        inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
        freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]           # (T, hs/2)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)                     # (T, hs)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        for name, p in self.named_parameters():  # GPT-2 style initialisation, as the engine's random models
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.drop(self.embed_tokens(idx))
        for b in self.layers:
            x = b(x, self.cos[:T], self.sin[:T])
        return self.norm(x) @ self.embed_tokens.weight.T  # LM head tied to embed_tokens


def unlikelihood_loss(logits, x, y):
    """Token-level unlikelihood (Welleck et al. 2019, "Neural text generation with unlikelihood training"):
    at each position, push down the probability of every token already in the context (x[:t+1]) except
    the true next one: mean over positions of -sum_c log(1 - p(c)). Greedy decoding of a small model
    repeats itself because repeating what is in the context is cheap under plain cross-entropy; this
    makes a repeat cost something. logits (B, T, V), x and y (B, T)."""
    V = logits.shape[-1]
    seen = F.one_hot(x, V).cumsum(1) > 0                     # (B, T, V): token v occurs in x[:t+1]
    seen.scatter_(2, y.unsqueeze(-1), False)                 # the true next token is never a negative
    one_minus_p = (1.0 - logits.softmax(-1)).clamp(min=1e-5)
    return -(one_minus_p.log() * seen).sum() / (x.shape[0] * x.shape[1])


def write_safetensors(path, tensors, f16):
    """Our own writer: matrices F16 when asked (half the file, faster decode); norms and biases F32."""
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        half = f16 and v.dim() == 2
        raw = v.detach().to(torch.float16 if half else torch.float32).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F16" if half else "F32", "shape": list(v.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_tokenizer(out_dir, tokenizer_dir):
    if tokenizer_dir:
        for name in ("vocab.json", "merges.txt"):
            if os.path.abspath(tokenizer_dir) != os.path.abspath(out_dir):
                shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out_dir, name))
    else:
        with open(os.path.join(out_dir, "kvlab_chars.json"), "w") as f:
            json.dump(CHARS, f)


def hf_llama_state(model):
    """The module's tensors under Hugging Face's names (model.layers.N.self_attn.q_proj.weight, ...)."""
    out = {}
    for k, v in model.state_dict().items():
        for sub, names in (("self_attn.", ("q_proj", "k_proj", "v_proj", "o_proj")), ("mlp.", ("gate_proj", "up_proj", "down_proj"))):
            for n in names:
                k = k.replace(f".{n}.", f".{sub}{n}.")
        out["model." + k] = v
    return out


def export_llama(model, cfg, out_dir, tokenizer_dir=None, f16=False):
    """Hugging Face LlamaForCausalLM layout: nn.Linear weights as they are, (out, in); tied, so no lm_head."""
    os.makedirs(out_dir, exist_ok=True)
    t = hf_llama_state(model)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), t, f16)
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": cfg["V"], "hidden_size": cfg["C"],
              "intermediate_size": cfg["I"], "num_hidden_layers": cfg["L"], "num_attention_heads": cfg["H"],
              "num_key_value_heads": cfg["G"], "max_position_embeddings": cfg["T"], "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "rope_scaling": None, "hidden_act": "silu", "tie_word_embeddings": True,
              "attention_bias": False, "mlp_bias": False, "head_dim": cfg["C"] // cfg["H"]}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_tokenizer(out_dir, tokenizer_dir)


def check_llama_export(model, cfg):
    """The trained module against tools/make_llama_golden.py's independent float64 Llama (the one the
    engine is tested against), on the exported names: a wrong export or a wrong module fails here."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from make_llama_golden import forward as reference_forward
    w = {k: v.detach().float() for k, v in hf_llama_state(model).items()}
    ref_cfg = {"n_embd": cfg["C"], "n_head": cfg["H"], "n_kv_head": cfg["G"], "n_layer": cfg["L"], "rms_norm_eps": 1e-5,
               "rope_theta": 10000.0, "qkv_bias": False, "tie_word_embeddings": True}
    tokens = torch.randint(0, cfg["V"], (1, min(cfg["T"], 40)), generator=torch.Generator().manual_seed(5))
    model.eval()
    with torch.no_grad():
        ours = model(tokens)[0].double()
    model.train()
    diff = (ours - reference_forward(w, ref_cfg, tokens[0].tolist())).abs().max().item()
    assert diff < 1e-3, f"the trained Llama differs from the reference Llama by {diff}"
    return diff


def export(model, cfg, out_dir, tokenizer_dir=None, f16=False):
    """Hugging Face GPT-2 hub layout; Linear weights transposed to Conv1D's (in, out)."""
    os.makedirs(out_dir, exist_ok=True)
    t = {"wte.weight": model.wte.weight, "wpe.weight": model.wpe.weight}
    for i, b in enumerate(model.h):
        p = f"h.{i}."
        t[p + "ln_1.weight"], t[p + "ln_1.bias"] = b.ln_1.weight, b.ln_1.bias
        t[p + "attn.c_attn.weight"], t[p + "attn.c_attn.bias"] = b.c_attn.weight.T, b.c_attn.bias
        t[p + "attn.c_proj.weight"], t[p + "attn.c_proj.bias"] = b.attn_proj.weight.T, b.attn_proj.bias
        t[p + "ln_2.weight"], t[p + "ln_2.bias"] = b.ln_2.weight, b.ln_2.bias
        t[p + "mlp.c_fc.weight"], t[p + "mlp.c_fc.bias"] = b.c_fc.weight.T, b.c_fc.bias
        t[p + "mlp.c_proj.weight"], t[p + "mlp.c_proj.bias"] = b.mlp_proj.weight.T, b.mlp_proj.bias
    t["ln_f.weight"], t["ln_f.bias"] = model.ln_f.weight, model.ln_f.bias
    write_safetensors(os.path.join(out_dir, "model.safetensors"), t, f16)
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": cfg["V"], "n_positions": cfg["T"],
              "n_ctx": cfg["T"], "n_embd": cfg["C"], "n_layer": cfg["L"], "n_head": cfg["H"], "n_inner": None,
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_tokenizer(out_dir, tokenizer_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/kvlab-corpus.txt")
    ap.add_argument("--val", default="", help="validation text (default: the corpus's last 2%%)")
    ap.add_argument("--tokenizer", default="", help="directory with vocab.json + merges.txt (bpe.py); default: characters")
    ap.add_argument("--f16", action="store_true", help="save the weight matrices as F16")
    ap.add_argument("--export-every", type=int, default=500, help="save a usable model every N steps")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "default"))
    ap.add_argument("--minutes", type=float, default=55.0, help="wall-clock training budget")
    ap.add_argument("--steps", type=int, default=0,
                    help="train exactly this many steps (schedule over steps): bit-for-bit reruns on one machine")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dropout", type=float, default=0.0, help="residual + embedding dropout while training (0: none)")
    ap.add_argument("--keep-checkpoints", action="store_true", help="also keep every export as OUT-stepN (to compare them)")
    ap.add_argument("--arch", choices=["gpt2", "llama"], default="gpt2")
    ap.add_argument("--kv-heads", type=int, default=0, help="llama: KV heads G (divides --heads; default: --heads)")
    ap.add_argument("--intermediate", type=int, default=0, help="llama: SwiGLU width (default: 8C/3 rounded up to 64)")
    ap.add_argument("--init", default="", help="start from this saved GPT-2 directory (fine-tuning) instead of random weights")
    ap.add_argument("--unlikelihood", type=float, default=0.0,
                    help="weight of the token-level unlikelihood loss (0: plain cross-entropy), see unlikelihood_loss")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    text = open(args.corpus, encoding="utf-8").read()
    if args.tokenizer:
        enc = bpe.Encoder(args.tokenizer)
        encode, vocab_size = enc.encode, len(enc.vocab)
    else:
        stoi = {c: i for i, c in enumerate(CHARS)}
        encode, vocab_size = (lambda s: [stoi[c] for c in s]), len(CHARS)
    t0 = time.time()
    data = torch.tensor(encode(text), dtype=torch.long)
    if args.val:
        train, val = data, torch.tensor(encode(open(args.val, encoding="utf-8").read()), dtype=torch.long)
    else:
        n_val = len(data) // 50
        train, val = data[:-n_val], data[-n_val:]
    print(f"{len(train)} training tokens, {len(val)} validation tokens ({time.time() - t0:.0f} s to encode)", flush=True)
    cfg = {"V": vocab_size, "T": args.context, "C": args.width, "L": args.layers, "H": args.heads}
    if args.arch == "llama":  # a Llama's MLP has three matrices: 8C/3 keeps its parameters near GPT-2's 4C with two
        cfg["G"] = args.kv_heads or args.heads
        cfg["I"] = args.intermediate or -(-8 * args.width // 3 // 64) * 64
        assert cfg["H"] % cfg["G"] == 0, "--kv-heads must divide --heads"
        model = Llama(cfg["V"], cfg["T"], cfg["C"], cfg["L"], cfg["H"], cfg["G"], cfg["I"], dropout=args.dropout)
        print(f"export check against the reference Llama: max |diff| {check_llama_export(model, cfg):.2e}", flush=True)
        save = export_llama
    else:
        model = GPT(cfg["V"], cfg["T"], cfg["C"], cfg["L"], cfg["H"], args.dropout)
        save = export
    if args.init:  # fine-tune a saved model: same shape required
        from evaluate import load  # evaluate.py imports this file, so import it here, not at the top
        saved, saved_cfg = load(args.init)
        assert (saved_cfg["vocab_size"], saved_cfg["n_ctx"], saved_cfg["n_embd"]) == (cfg["V"], cfg["T"], cfg["C"]), \
            "--init must have the same vocabulary, context and width as the run"
        model.load_state_dict(saved.state_dict())
        model.train()
        print(f"starting from {args.init}", flush=True)
    print("parameters:", sum(p.numel() for p in model.parameters()), flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.1)
    gen = torch.Generator().manual_seed(args.seed)

    def batch(split):
        d = train if split == "train" else val
        ix = torch.randint(len(d) - cfg["T"] - 1, (args.batch,), generator=gen)
        return torch.stack([d[i:i + cfg["T"]] for i in ix]), torch.stack([d[i + 1:i + 1 + cfg["T"]] for i in ix])

    @torch.no_grad()
    def val_loss():
        model.eval()
        g = torch.Generator().manual_seed(0)
        losses = []
        for _ in range(8):
            ix = torch.randint(len(val) - cfg["T"] - 1, (16,), generator=g)
            x = torch.stack([val[i:i + cfg["T"]] for i in ix])
            y = torch.stack([val[i + 1:i + 1 + cfg["T"]] for i in ix])
            losses.append(F.cross_entropy(model(x).view(-1, cfg["V"]), y.view(-1)).item())
        model.train()
        return sum(losses) / len(losses)

    start = time.time()
    budget = args.minutes * 60
    step = 0
    while True:
        elapsed = time.time() - start
        if (args.steps and step >= args.steps) or (not args.steps and elapsed > budget):
            break
        # cosine schedule over the step count, or over wall-clock time when only --minutes is given
        frac = step / args.steps if args.steps else elapsed / budget
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch("train")
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, cfg["V"]), y.view(-1))
        if args.unlikelihood:
            loss = loss + args.unlikelihood * unlikelihood_loss(logits, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} {elapsed / 60:.1f} min", flush=True)
        if step % args.export_every == 0 and step:
            print(f"  val loss {val_loss():.3f}", flush=True)
            save(model, cfg, args.out, args.tokenizer, args.f16)  # a usable model at every checkpoint
            if args.keep_checkpoints:
                save(model, cfg, f"{args.out}-step{step}", args.tokenizer, args.f16)
        step += 1
    v = val_loss()
    if args.arch == "llama":
        print(f"export check after training: max |diff| {check_llama_export(model, cfg):.2e}", flush=True)
    save(model, cfg, args.out, args.tokenizer, args.f16)
    print(f"done: {step} steps in {(time.time() - start) / 60:.1f} min, final val loss {v:.3f}", flush=True)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"steps": step, "minutes": round((time.time() - start) / 60, 1), "val_loss": round(v, 4),
                   "seed": args.seed, "config": cfg, "batch": args.batch, "lr": args.lr,
                   "threads": args.threads, "dropout": args.dropout, "arch": args.arch,
                   "init": args.init, "unlikelihood": args.unlikelihood, "tokenizer": "byte-level BPE (bpe.py)" if args.tokenizer else "characters",
                   "f16": args.f16, "corpus": os.path.basename(args.corpus)}, f, indent=2)


if __name__ == "__main__":
    main()
