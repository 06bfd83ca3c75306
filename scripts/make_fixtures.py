#!/usr/bin/env python3
"""Writes the tiny random reference models and their golden logits.

For every fixture under tests/data/models/ this makes, with Hugging Face
transformers as the reference implementation:
  <name>/config.json + model.safetensors   (save_pretrained, config rewritten to
                                            the classic hub keys, see below)
  <name>.gguf                              (laid out as llama.cpp's HF->GGUF
                                            converter does, via gguf-py)
  <name>.golden.json                       (prefill + greedy decode logits)
and quantized GGUF copies of g9x3 and gqa_hd64 with goldens computed from
their dequantized weights. Deterministic: rerunning rewrites identical files.

  python3 scripts/make_fixtures.py            # write everything, then verify
  python3 scripts/make_fixtures.py --verify   # only reload and check
  python3 scripts/make_fixtures.py --only gqa_hd64   # one fixture, then verify
"""
import argparse
import json
import os
import shutil
import sys

import gguf
import numpy as np
import torch
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_gguf import read_gguf_state, write_gguf  # noqa: E402

# transformers 5 refuses hidden_size % num_attention_heads != 0 even when
# head_dim is given explicitly (its Llama modelling code handles that case, and
# 4.x accepted it); g9x3 needs it, so drop just that check.
LlamaConfig.__class_validators__ = [
    v for v in getattr(LlamaConfig, "__class_validators__", [])
    if v.__name__ != "validate_architecture"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "models")
PROMPT = [1, 17, 99, 3, 250, 42, 7, 128]
N_DECODE = 8
VOCAB = 256
BOS_ID, EOS_ID = 1, 2

# With theta 5e5 and head_dim 8 the pair wavelengths are 6.3, 167, 4443 and
# 118000 positions; original_max_position_embeddings 256 puts them in all three
# llama3 bands (kept, smoothed, divided by 8). Like Llama 3.1, the scaled
# context (max_position_embeddings) is factor x the original one.
LLAMA3_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 256}

# name -> (architecture, heads, kv heads, explicit head_dim or None, extra config)
SPECS = {
    "mha": ("llama", 4, 4, None, {}),
    "mqa": ("llama", 8, 1, None, {}),
    "gqa": ("llama", 8, 2, None, {"rope_theta": 500000.0, "rope_scaling": LLAMA3_SCALING,
                                   "max_position_embeddings": 2048}),
    "qwen2": ("qwen2", 8, 2, None, {"tie_word_embeddings": True}),
    # SmolLM2's 9 heads / 3 groups in miniature. head_dim 32 (not hidden/heads)
    # keeps 9*32 = 288 a multiple of the 32-element quantization block, so
    # attn_output can be quantized and cut per group like the real model's.
    "g9x3": ("llama", 9, 3, 32, {"tie_word_embeddings": False}),
    # 4 heads in 2 groups of head_dim 64 (hidden 64): the head size of the
    # CUDA attention kernels (64 or 128), which the fixtures above lack.
    "gqa_hd64": ("llama", 4, 2, 64, {}),
}
# Fixtures that also get quantized GGUF copies (every row a whole number of
# 32-element blocks).
QUANTIZED = ("g9x3", "gqa_hd64")
QUANT_COPIES = {"q8_0": gguf.GGMLQuantizationType.Q8_0,
                "q4_0": gguf.GGMLQuantizationType.Q4_0,
                "q4_1": gguf.GGMLQuantizationType.Q4_1}


# ----------------------------------------------------------------------------
# Model construction


def make_config(name):
    arch, n_heads, n_kv, head_dim, extra = SPECS[name]
    kw = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
              num_hidden_layers=2, num_attention_heads=n_heads,
              num_key_value_heads=n_kv, rms_norm_eps=1e-5,
              max_position_embeddings=extra.get("max_position_embeddings", 256), bos_token_id=BOS_ID,
              eos_token_id=EOS_ID, rope_theta=extra.get("rope_theta", 10000.0),
              tie_word_embeddings=extra.get("tie_word_embeddings", False))
    if head_dim is not None:
        kw["head_dim"] = head_dim
    if "rope_scaling" in extra:
        kw["rope_scaling"] = dict(extra["rope_scaling"])
    if arch == "qwen2":
        return Qwen2Config(**kw)
    return LlamaConfig(**kw)


def make_model(name, seed):
    """A randomly initialised model; weights large enough that logits vary."""
    torch.manual_seed(seed)
    cfg = make_config(name)
    cls = Qwen2ForCausalLM if SPECS[name][0] == "qwen2" else LlamaForCausalLM
    model = cls(cfg).to(torch.float32).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * noise)
            elif pname.endswith(".bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.15 * noise)
    return model


def hub_style_config(d, explicit_head_dim):
    """Rewrites save_pretrained's config.json into the keys released checkpoints
    use (rope_theta and rope_scaling at top level, torch_dtype), which
    transformers still reads."""
    rope = d.pop("rope_parameters", None) or {}
    d["rope_theta"] = rope.get("rope_theta", 10000.0)
    if rope.get("rope_type", "default") != "default":
        d["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
    d["torch_dtype"] = d.pop("dtype", "float32")
    if not explicit_head_dim:
        d.pop("head_dim", None)
    for k in ("layer_types", "transformers_version"):
        d.pop(k, None)
    return dict(sorted(d.items()))


def save_hf(model, name, dtype=torch.float32, **save_kw):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    model.to(dtype).save_pretrained(path, safe_serialization=True, **save_kw)
    model.to(torch.float32)
    cfg_path = os.path.join(path, "config.json")
    with open(cfg_path) as f:
        d = json.load(f)
    with open(cfg_path, "w") as f:
        json.dump(hub_style_config(d, SPECS[base_name(name)][3] is not None), f, indent=2)
        f.write("\n")
    for f in os.listdir(path):
        if f == "generation_config.json":
            os.remove(os.path.join(path, f))
        else:
            os.chmod(os.path.join(path, f), 0o644)


def base_name(name):
    return name.split("_")[0] if name not in SPECS else name


def model_from_state(cfg, state):
    cls = Qwen2ForCausalLM if cfg.model_type == "qwen2" else LlamaForCausalLM
    model = cls(cfg).to(torch.float32).eval()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()},
                          strict=True)
    return model


def state_of(model):
    return {k: v.detach().to(torch.float32).numpy().copy()
            for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------
# Goldens


@torch.no_grad()
def run_reference(model, prompt=PROMPT, n_decode=N_DECODE):
    """Prefill logits for `prompt`, then greedy decode with the KV cache.
    greedy_ids[0] = argmax(prefill last row); greedy_logits[i] are the logits
    after feeding greedy_ids[i] at position len(prompt)+i, and
    greedy_ids[i+1] = argmax(greedy_logits[i])."""
    ids = torch.tensor([prompt])
    out = model(input_ids=ids, use_cache=True)
    prefill = out.logits[0].float()
    cache = out.cache
    greedy_ids, greedy_logits = [int(prefill[-1].argmax())], []
    for i in range(n_decode):
        step = model(input_ids=torch.tensor([[greedy_ids[i]]]), cache=cache, use_cache=True)
        cache = step.cache
        row = step.logits[0, -1].float()
        greedy_logits.append(row)
        if i + 1 < n_decode:
            greedy_ids.append(int(row.argmax()))
    # The cache path must agree with a plain forward over the whole sequence.
    full = model(input_ids=torch.tensor([prompt + greedy_ids])).logits[0].float()
    assert torch.allclose(full[len(prompt):], torch.stack(greedy_logits), atol=1e-4)
    return prefill.numpy(), greedy_ids, torch.stack(greedy_logits).numpy()


def fmt_row(row):
    return "[" + ",".join(str(np.float32(v)) for v in row) + "]"


def write_golden(path, prefill, greedy_ids, greedy_logits, note):
    rows = ",\n  ".join(fmt_row(r) for r in prefill)
    grows = ",\n  ".join(fmt_row(r) for r in greedy_logits)
    with open(path, "w") as f:
        f.write('{"note": %s,\n"token_ids": %s,\n"n_vocab": %d,\n"logits": [\n  %s],\n'
                '"greedy_ids": %s,\n"greedy_logits": [\n  %s]}\n'
                % (json.dumps(note), json.dumps(PROMPT), prefill.shape[1], rows,
                   json.dumps(greedy_ids), grows))


def min_margin(prefill, greedy_logits):
    rows = np.concatenate([prefill[-1:], greedy_logits[:-1]])
    top2 = np.sort(rows, axis=1)[:, -2:]
    return float((top2[:, 1] - top2[:, 0]).min())


def generate(only=None):
    os.makedirs(OUT, exist_ok=True)
    for seed, name in enumerate(SPECS, start=1):
        if only is not None and name not in only:
            continue  # the seeds stay those of a full run
        model = make_model(name, seed)
        cfg = model.config
        save_hf(model, name)
        write_gguf(os.path.join(OUT, name + ".gguf"), cfg, state_of(model))
        res = run_reference(model)
        write_golden(os.path.join(OUT, name + ".golden.json"), *res,
                     "transformers %s float32 on %s/" % (cfg.architectures[0], name))
        print("%-10s greedy %s  min top1-top2 margin %.4f" % (name, res[1], min_margin(res[0], res[2])))
        if name == "gqa":
            save_hf(model, "gqa_sharded", max_shard_size="200KB")
            write_golden(os.path.join(OUT, "gqa_sharded.golden.json"), *res,
                         "same weights as gqa/, saved in shards")
        if name == "mha":
            save_hf(model, "mha_bf16", dtype=torch.bfloat16)
            bf = model_from_state(cfg, {k: v.to(torch.bfloat16).float().numpy()
                                        for k, v in model.state_dict().items()})
            write_gguf(os.path.join(OUT, "mha_bf16.gguf"), cfg, state_of(bf),
                       gguf.GGMLQuantizationType.BF16)
            res = run_reference(bf)
            write_golden(os.path.join(OUT, "mha_bf16.golden.json"), *res,
                         "transformers float32 on the bfloat16 weights of mha_bf16/")
            print("%-10s greedy %s  min margin %.4f" % ("mha_bf16", res[1], min_margin(res[0], res[2])))
        if name in QUANTIZED:
            for suffix, qtype in QUANT_COPIES.items():
                qname = "%s.%s" % (name, suffix)
                gpath = os.path.join(OUT, qname + ".gguf")
                write_gguf(gpath, cfg, state_of(model), qtype)
                qmodel = model_from_state(cfg, read_gguf_state(gpath, cfg))
                res = run_reference(qmodel)
                write_golden(os.path.join(OUT, qname + ".golden.json"), *res,
                             "transformers float32 on the gguf-py dequantized weights of "
                             "%s.gguf" % qname)
                print("%-10s greedy %s  min margin %.4f" % (qname, res[1],
                                                            min_margin(res[0], res[2])))


# ----------------------------------------------------------------------------
# Verification: reload what was written and compare with the goldens


def load_golden(path):
    with open(path) as f:
        g = json.load(f)
    return (np.array(g["logits"], dtype=np.float32), g["greedy_ids"],
            np.array(g["greedy_logits"], dtype=np.float32))


def compare(label, golden_path, model, tol=1e-5, expect_mismatch=False):
    want = load_golden(golden_path)
    got = run_reference(model)
    ok = True
    for what, a, b in (("prefill", got[0], want[0]), ("decode", got[2], want[2])):
        rel = float(np.abs(a - b).max() / np.abs(b).max())
        ok &= rel < tol
        print("  %-28s %-7s max|diff|/max|ref| = %.2e" % (label, what, rel))
    ok &= got[1] == want[1]
    if not ok:
        print("  MISMATCH in", label, "(expected)" if expect_mismatch else "")
    return ok


def verify():
    from transformers import AutoConfig, AutoModelForCausalLM
    ok = True
    hf_dirs = list(SPECS) + ["gqa_sharded", "mha_bf16"]
    for name in hf_dirs:
        model = AutoModelForCausalLM.from_pretrained(os.path.join(OUT, name),
                                                     dtype=torch.float32).eval()
        ok &= compare(name + "/ (safetensors)", os.path.join(OUT, name + ".golden.json"), model)
    gguf_files = [(n, n) for n in list(SPECS) + ["mha_bf16"]]
    gguf_files += [(q + "." + s, q) for q in QUANTIZED for s in QUANT_COPIES]
    for gname, cfg_dir in gguf_files:
        cfg = AutoConfig.from_pretrained(os.path.join(OUT, cfg_dir))
        path = os.path.join(OUT, gname + ".gguf")
        model = model_from_state(cfg, read_gguf_state(path, cfg))
        ok &= compare(gname + ".gguf (gguf-py)", os.path.join(OUT, gname + ".golden.json"), model)
        # Independent check of the layout: transformers' own GGUF loader
        # (its own name map and q/k un-permutation).
        try:
            tm = AutoModelForCausalLM.from_pretrained(OUT, gguf_file=gname + ".gguf",
                                                      dtype=torch.float32).eval()
            # It reads no rope_freqs.weight, so it cannot reproduce gqa.
            same = compare(gname + ".gguf (transformers)",
                           os.path.join(OUT, gname + ".golden.json"), tm,
                           expect_mismatch=gname == "gqa")
            ok &= same or gname == "gqa"
        except Exception as e:  # loader coverage varies across versions
            print("  %s: transformers' GGUF loader unavailable (%s)" % (gname, str(e)[:80]))
    # rope_freqs.weight means: HF inv_freq[i] == theta^(-2i/hd) / rope_freqs[i].
    cfg = AutoConfig.from_pretrained(os.path.join(OUT, "gqa"))
    model = AutoModelForCausalLM.from_pretrained(os.path.join(OUT, "gqa"), dtype=torch.float32)
    reader = gguf.GGUFReader(os.path.join(OUT, "gqa.gguf"))
    factors = [np.asarray(t.data) for t in reader.tensors if t.name == "rope_freqs.weight"][0]
    hd, theta = cfg.hidden_size // cfg.num_attention_heads, cfg.rope_parameters["rope_theta"]
    base = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
    inv = model.model.rotary_emb.inv_freq.numpy()
    rel = float(np.abs(base / factors - inv).max() / inv.max())
    print("  gqa rope_freqs: factors %s, |theta^(-2i/hd)/f - hf inv_freq| rel %.1e"
          % (np.round(factors, 4).tolist(), rel))
    ok &= rel < 1e-6
    # ... and the scaling changes the logits, so a loader that ignores it fails.
    plain = make_config("gqa")
    plain.rope_parameters = {"rope_type": "default", "rope_theta": theta}
    unscaled = model_from_state(plain, state_of(model))
    diff = np.abs(run_reference(unscaled)[0] - load_golden(os.path.join(OUT, "gqa.golden.json"))[0]).max()
    print("  gqa without llama3 scaling: max|logit diff| = %.3f (must be large)" % diff)
    ok &= diff > 1e-2
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("tests/data/models: %.2f MB" % (total / 1e6))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verify", action="store_true", help="only check existing files")
    ap.add_argument("--only", nargs="+", choices=list(SPECS),
                    help="write only these fixtures (then verify all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.verify:
        generate(args.only)
    ok = verify()
    print("VERIFY", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
