#!/usr/bin/env python3
"""Golden logits of the real SmolLM2-135M-Instruct.Q4_1.gguf, computed by
transformers' LlamaForCausalLM in float32 on the gguf-py dequantized weights
(attn_q/attn_k rows restored to Hugging Face order).

  python3 scripts/make_smollm2_reference.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]

Without a path it asks scripts/fetch-model. Writes
tests/data/models/smollm2.golden.json (see tests/data/README.md).
"""
import json
import os
import subprocess
import sys

import gguf
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_gguf import read_gguf_state  # noqa: E402
from make_fixtures import OUT, ROOT, model_from_state  # noqa: E402

PROMPT = "The capital city of France is"
FALLBACK_IDS = [504, 3575, 2240, 282, 4649, 314]  # only if the GGUF tokenizer cannot load
N_DECODE = 16
TOP_K = 64


def field(reader, key):
    return reader.fields[key].contents()


def config_from_gguf(reader):
    arch = field(reader, "general.architecture")
    assert arch == "llama", arch
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    names = {t.name for t in reader.tensors}
    return LlamaConfig(
        vocab_size=int(field(reader, "llama.vocab_size")) if "llama.vocab_size" in reader.fields
        else n_vocab,
        hidden_size=int(field(reader, "llama.embedding_length")),
        intermediate_size=int(field(reader, "llama.feed_forward_length")),
        num_hidden_layers=int(field(reader, "llama.block_count")),
        num_attention_heads=int(field(reader, "llama.attention.head_count")),
        num_key_value_heads=int(field(reader, "llama.attention.head_count_kv")),
        rms_norm_eps=float(field(reader, "llama.attention.layer_norm_rms_epsilon")),
        rope_theta=float(field(reader, "llama.rope.freq_base")),
        max_position_embeddings=int(field(reader, "llama.context_length")),
        bos_token_id=int(field(reader, "tokenizer.ggml.bos_token_id")),
        eos_token_id=int(field(reader, "tokenizer.ggml.eos_token_id")),
        tie_word_embeddings="output.weight" not in names)


def g6(v):
    return float("%.6g" % v)


def top(row, k=TOP_K):
    ids = np.argsort(-row, kind="stable")[:k]
    return [int(i) for i in ids], [g6(row[i]) for i in ids]


@torch.no_grad()
def run(model, ids):
    out = model(input_ids=torch.tensor([ids]), use_cache=True)
    prefill = out.logits[0].float().numpy()
    cache = out.cache
    greedy, steps = [int(prefill[-1].argmax())], []
    for i in range(N_DECODE):
        step = model(input_ids=torch.tensor([[greedy[i]]]), cache=cache, use_cache=True)
        cache = step.cache
        steps.append(step.logits[0, -1].float().numpy())
        if i + 1 < N_DECODE:
            greedy.append(int(steps[-1].argmax()))
    return prefill, greedy, np.stack(steps)


def main():
    if len(sys.argv) > 1:
        path = sys.argv[1]
    else:
        path = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model")], check=True,
                              capture_output=True, text=True).stdout.strip()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    reader = gguf.GGUFReader(path)
    cfg = config_from_gguf(reader)
    print("config:", {k: getattr(cfg, k) for k in (
        "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "head_dim", "vocab_size", "rms_norm_eps",
        "tie_word_embeddings")}, "rope_theta", cfg.rope_parameters["rope_theta"])
    model = model_from_state(cfg, read_gguf_state(path, cfg))

    try:
        tok = AutoTokenizer.from_pretrained(os.path.dirname(path),
                                            gguf_file=os.path.basename(path))
        ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
        source = "transformers GGUF tokenizer, no special tokens"
    except Exception as e:  # keep going with fixed ids
        print("tokenizer unavailable:", e)
        tok, ids, source = None, FALLBACK_IDS, "fixed ids"
    print("prompt ids:", ids, "(%s)" % source)

    prefill, greedy, steps = run(model, ids)
    text = tok.decode(greedy) if tok else None
    print("greedy ids:", greedy)
    print("greedy text: %r" % text)

    # Independent check of the dequant + un-permute path: transformers' own
    # GGUF loader on the same file.
    try:
        ref = AutoModelForCausalLM.from_pretrained(os.path.dirname(path),
                                                   gguf_file=os.path.basename(path),
                                                   dtype=torch.float32).eval()
        rp, rg, rs = run(ref, ids)
        rel = max(float(np.abs(rp - prefill).max() / np.abs(prefill).max()),
                  float(np.abs(rs - steps).max() / np.abs(steps).max()))
        print("transformers' GGUF loader: max rel diff %.2e, same greedy ids: %s"
              % (rel, rg == greedy))
        assert rel < 1e-5 and rg == greedy
    except ImportError as e:
        print("transformers' GGUF loader unavailable:", e)

    golden = {
        "note": "transformers LlamaForCausalLM float32 on the gguf-py dequantized weights of "
                "SmolLM2-135M-Instruct.Q4_1.gguf; logits rounded to 6 significant digits",
        "prompt": PROMPT, "token_ids_source": source, "token_ids": ids,
        "n_vocab": cfg.vocab_size, "top_k": TOP_K,
        "top_ids": [top(r)[0] for r in prefill],
        "top_logits": [top(r)[1] for r in prefill],
        "last_logits": [g6(v) for v in prefill[-1]],
        "greedy_ids": greedy, "greedy_text": text,
        "greedy_top_ids": [top(r)[0] for r in steps],
        "greedy_top_logits": [top(r)[1] for r in steps],
    }
    out = os.path.join(OUT, "smollm2.golden.json")
    with open(out, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")

    # Reload what was written and compare with a fresh run.
    with open(out) as f:
        back = json.load(f)
    last = np.array(back["last_logits"], dtype=np.float32)
    rel = float(np.abs(last - prefill[-1]).max() / np.abs(prefill[-1]).max())
    assert rel < 1e-5 and back["greedy_ids"] == greedy, rel
    print("wrote %s (%.0f KB), rounding rel diff %.1e" % (out, os.path.getsize(out) / 1e3, rel))


if __name__ == "__main__":
    main()
