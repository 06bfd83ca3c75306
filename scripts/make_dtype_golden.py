#!/usr/bin/env python3
"""Writes tests/data/dtype_golden.json: reference encodings and decodings from
gguf-py (the GGUF reference implementation) and numpy, for tests/core/dtype_test.cc.

For each of Q8_0, Q4_0, Q4_1: random rows, the bytes gguf-py's quantizer
produced, and gguf-py's dequantization of those bytes. For F16/BF16: floats
and the bit patterns numpy / gguf-py round them to."""
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import quants

rng = np.random.default_rng(1234)
rows = rng.standard_normal((4, 96)).astype(np.float32)
rows[1] *= 100.0           # large scale
rows[2, 40:] = 0.0         # an all-zero block and a partly zero one
rows[3] = np.abs(rows[3])  # one-signed, so Q4_1's min matters
out = {"rows": rows.tolist()}
# (elements, bytes) per block, from gguf-py's table.
out["block_sizes"] = {qt.name: list(quants.GGML_QUANT_SIZES[qt])
                      for qt in (Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1)}
for qt in (Q.Q8_0, Q.Q4_0, Q.Q4_1):
    q = quants.quantize(rows, qt)
    out[qt.name] = {
        "bytes": [bytes(r).hex() for r in q],
        "dequant": quants.dequantize(q, qt).astype(np.float32).tolist(),
    }

specials = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e6, 6.1e-5, 6.0e-8,
                     2.98e-8, 1e-9, 3.14159265, -1.0 / 3.0, np.inf, -np.inf], dtype=np.float32)
floats = np.concatenate([specials, rng.standard_normal(48).astype(np.float32) *
                         np.float32(10.0) ** rng.integers(-6, 5, 48)]).astype(np.float32)
# As bit patterns: JSON has no infinities.
out["float_bits"] = [int(b) for b in floats.view(np.uint32)]
with np.errstate(over="ignore"):  # 1e6 -> inf is the point
    out["f16_bits"] = [int(b) for b in floats.astype(np.float16).view(np.uint16)]
    out["f16_widened_bits"] = [int(b) for b in
                               floats.astype(np.float16).astype(np.float32).view(np.uint32)]
out["bf16_bits"] = [int(b) for b in quants.quantize(floats, Q.BF16).view(np.uint16)]

path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "dtype_golden.json"
path.write_text(json.dumps(out, allow_nan=False) + "\n")
print("wrote", path)
