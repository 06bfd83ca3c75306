#!/usr/bin/env python3
"""Goldens for `groupshard convert`, made with transformers and numpy only.

Mean-pools the key and value projection heads of the MHA fixture
(tests/data/models/mha: 4 heads, 4 KV heads) into G groups, as Ainslie et al.
2023 describe (new head g = mean of old heads g*r .. g*r+r-1, r = 4/G), loads
the result into transformers' LlamaForCausalLM with num_key_value_heads = G
and writes its float32 prefill logits for the fixture prompt to

  tests/data/convert/mha_g{2,1}.golden.json   (token_ids, n_vocab, logits)

With --check DIR [--groups G] it instead loads a directory written by
`groupshard convert` with transformers' own from_pretrained and compares its
logits with the pooled model built here (exit status 1 on a mismatch).

    python3 scripts/make_convert_golden.py
    python3 scripts/make_convert_golden.py --check /tmp/mha_g2 --groups 2
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MHA = os.path.join(ROOT, "tests", "data", "models", "mha")
OUT = os.path.join(ROOT, "tests", "data", "convert")
TOKENS = [1, 17, 99, 3, 250, 42, 7, 128]


def pooled_model(groups):
    with open(os.path.join(MHA, "config.json")) as f:
        cfg = json.load(f)
    n_kv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    r = n_kv // groups
    sd = load_file(os.path.join(MHA, "model.safetensors"))
    for name in list(sd):
        if name.endswith(("self_attn.k_proj.weight", "self_attn.v_proj.weight")):
            w = sd[name]  # [n_kv * hd, hidden]
            sd[name] = w.reshape(groups, r, hd, w.shape[1]).astype(np.float64).mean(axis=1).reshape(
                groups * hd, w.shape[1]).astype(np.float32)
    cfg["num_key_value_heads"] = groups
    model = LlamaForCausalLM(LlamaConfig(**cfg)).eval()
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()},
                                                strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    return model


def logits_of(model):
    with torch.no_grad():
        return model(torch.tensor([TOKENS])).logits[0].float().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", help="a directory written by groupshard convert")
    ap.add_argument("--groups", type=int, default=2)
    args = ap.parse_args()
    if args.check:
        theirs = LlamaForCausalLM.from_pretrained(args.check, torch_dtype=torch.float32).eval()
        assert theirs.config.num_key_value_heads == args.groups, theirs.config.num_key_value_heads
        a, b = logits_of(theirs), logits_of(pooled_model(args.groups))
        diff = float(np.abs(a - b).max() / np.abs(b).max())
        print(f"{args.check}: transformers loads it; max relative logit difference to the "
              f"pooled reference: {diff:.3g}")
        sys.exit(0 if diff < 1e-5 else 1)
    os.makedirs(OUT, exist_ok=True)
    for g in (2, 1):
        logits = logits_of(pooled_model(g))
        golden = {"token_ids": TOKENS, "n_vocab": int(logits.shape[1]),
                  "logits": [[float(x) for x in row] for row in logits]}
        path = os.path.join(OUT, f"mha_g{g}.golden.json")
        with open(path, "w") as f:
            json.dump(golden, f)
            f.write("\n")
        print("wrote", path)


if __name__ == "__main__":
    main()
