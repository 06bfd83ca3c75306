#!/usr/bin/env python3
"""Golden keys for `groupshard inspect`, from transformers.

Runs the fixture tests/data/models/gqa (8 heads, 2 KV groups, llama3 RoPE
scaling) and the MHA fixture over the fixture prompt and records, for every
layer, the key states right after transformers applies RoPE (captured by
wrapping modeling_llama.apply_rotary_pos_emb), as
[n_tokens][n_kv_heads][head_dim], into

  tests/data/inspect/<model>.keys.json

    python3 scripts/make_inspect_golden.py
"""
import json
import os

import torch
import transformers.models.llama.modeling_llama as ml
from transformers import LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "data", "models")
OUT = os.path.join(ROOT, "tests", "data", "inspect")
TOKENS = [1, 17, 99, 3, 250, 42, 7, 128]


def main():
    os.makedirs(OUT, exist_ok=True)
    captured = []
    original = ml.apply_rotary_pos_emb

    def spy(q, k, cos, sin, *args, **kwargs):
        q2, k2 = original(q, k, cos, sin, *args, **kwargs)
        captured.append(k2.detach().clone())
        return q2, k2

    ml.apply_rotary_pos_emb = spy
    try:
        for name in ("gqa", "mha"):
            captured.clear()
            model = LlamaForCausalLM.from_pretrained(os.path.join(MODELS, name),
                                                     torch_dtype=torch.float32,
                                                     attn_implementation="eager").eval()
            with torch.no_grad():
                model(torch.tensor([TOKENS]))
            assert len(captured) == model.config.num_hidden_layers, len(captured)
            # [1, n_kv_heads, n_tokens, head_dim] -> [n_tokens, n_kv_heads, head_dim]
            layers = [k[0].permute(1, 0, 2).tolist() for k in captured]
            path = os.path.join(OUT, f"{name}.keys.json")
            with open(path, "w") as f:
                json.dump({"token_ids": TOKENS, "keys": layers}, f)
                f.write("\n")
            print("wrote", path)
    finally:
        ml.apply_rotary_pos_emb = original


if __name__ == "__main__":
    main()
