#!/usr/bin/env python3
"""Writes tests/data/smollm2_golden.json: slices of SmolLM2-135M-Instruct.Q4_1.gguf
as transformers loads them (gguf-py dequantization, Hugging Face names, and
transformers' own undoing of llama.cpp's q/k row permutation). Used by
tests/core/gguf_source_test.cc to check our loader against an implementation
we did not write."""
import json
import pathlib
import subprocess

import numpy as np
from transformers import AutoModelForCausalLM

root = pathlib.Path(__file__).resolve().parent.parent
gguf = pathlib.Path(subprocess.check_output([str(root / "scripts" / "fetch-model")], text=True).strip())
model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                             torch_dtype="float32")
sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}

# (name, row range, col range); q/k ranges cross head boundaries (hd = 64).
picks = [
    ("model.embed_tokens.weight", (0, 2), (0, 96)),
    ("model.embed_tokens.weight", (49150, 49152), (480, 576)),
    ("model.norm.weight", (0, 1), (0, 32)),
]
for il in (0, 29):
    p = f"model.layers.{il}."
    picks += [
        (p + "input_layernorm.weight", (0, 1), (0, 32)),
        (p + "post_attention_layernorm.weight", (0, 1), (544, 576)),
        (p + "self_attn.q_proj.weight", (0, 3), (0, 64)),
        (p + "self_attn.q_proj.weight", (30, 34), (64, 128)),
        (p + "self_attn.q_proj.weight", (62, 66), (512, 576)),
        (p + "self_attn.k_proj.weight", (0, 3), (0, 64)),
        (p + "self_attn.k_proj.weight", (126, 130), (32, 96)),
        (p + "self_attn.k_proj.weight", (190, 192), (0, 32)),
        (p + "self_attn.v_proj.weight", (31, 34), (0, 64)),
        (p + "self_attn.o_proj.weight", (100, 102), (64, 128)),
        (p + "mlp.gate_proj.weight", (1535, 1536), (0, 64)),
        (p + "mlp.up_proj.weight", (7, 9), (512, 576)),
        (p + "mlp.down_proj.weight", (575, 576), (1472, 1536)),
    ]
out = []
for name, (r0, r1), (c0, c1) in picks:
    t = sd[name]
    t = t.reshape(1, -1) if t.ndim == 1 else t
    out.append({"name": name, "rows": [r0, r1], "cols": [c0, c1],
                "shape": list(sd[name].shape),
                "values": t[r0:r1, c0:c1].astype(np.float32).ravel().tolist()})
path = root / "tests" / "data" / "smollm2_golden.json"
path.write_text(json.dumps({"model": gguf.name, "slices": out}) + "\n")
print("wrote", path)
