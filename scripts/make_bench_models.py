#!/usr/bin/env python3
"""Random-weight GGUF models of real shapes for `groupshard bench`, written
with gguf-py into ~/.cache/groupshard/bench/ (never committed: the 8B one is
4.3 GiB in Q4_0). Only speed and memory are measured on them, so the quantized
blocks are drawn directly (random int quants, fixed-size scales) instead of
quantizing random floats; F16/BF16 weights are random normals. Each tensor is
written as soon as it is drawn, so that making the 8B shape needs one
tensor's memory, not the model's.

  python3 scripts/make_bench_models.py            # the default models
  python3 scripts/make_bench_models.py --only llama3-8b.q4_0
  python3 scripts/make_bench_models.py --list
"""
import argparse
import os

import gguf
import numpy as np

OUT = os.path.expanduser("~/.cache/groupshard/bench")

SHAPES = {
    # name: hidden, layers, heads, kv heads, ffn, vocab, tied embeddings
    "llama-1b": dict(hidden=2048, layers=16, heads=32, kv=8, ffn=8192, vocab=32000, tied=False),
    "smollm2-135m": dict(hidden=576, layers=30, heads=9, kv=3, ffn=1536, vocab=49152, tied=True),
    # Llama 3 8B: 4x fewer KV heads than query heads, a 128K vocabulary,
    # an untied LM head.
    "llama3-8b": dict(hidden=4096, layers=32, heads=32, kv=8, ffn=14336, vocab=128256, tied=False),
}
# Made by default (scripts/bench-table's rows); the others with --only.
MODELS = [("llama-1b", "q8_0"), ("smollm2-135m", "q8_0"), ("smollm2-135m", "q4_1")]
EXTRA = [("llama-1b", "q4_0"), ("smollm2-135m", "q4_0"), ("llama3-8b", "q4_0"),
         ("llama3-8b", "q8_0"), ("smollm2-135m", "bf16"), ("smollm2-135m", "f16"),
         ("llama-1b", "bf16"), ("llama-1b", "f16")]
QTYPES = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_1": gguf.GGMLQuantizationType.Q4_1,
          "q4_0": gguf.GGMLQuantizationType.Q4_0, "bf16": gguf.GGMLQuantizationType.BF16,
          "f16": gguf.GGMLQuantizationType.F16}
FILE_TYPES = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
              "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
              "f16": gguf.LlamaFileType.MOSTLY_F16}
# Bytes per 32 weights.
BLOCK_BYTES = {"q8_0": 34, "q4_0": 18, "q4_1": 20, "bf16": 64, "f16": 64}


def random_blocks(rng, rows, cols, qname, std=0.02):
    """rows x cols in GGUF block layout as uint8 [rows, row_bytes]; weights of
    roughly standard deviation `std`."""
    if qname in ("bf16", "f16"):
        # Drawn a row band at a time (the 8B shape's embedding is 1 G values).
        out = np.empty((rows, cols * 2), dtype=np.uint8)
        band = max(1, (1 << 22) // cols)
        for r in range(0, rows, band):
            x = (rng.standard_normal((min(band, rows - r), cols), dtype=np.float32) * std)
            if qname == "f16":
                h = x.astype(np.float16).view(np.uint16)
            else:  # the high half of the fp32 bits (truncation is fine for noise)
                h = (x.view(np.uint32) >> 16).astype(np.uint16)
            out[r:r + len(h)] = h.view(np.uint8)
        return out
    nb = rows * cols // 32
    def quants(n, dtype):
        return np.frombuffer(rng.bytes(nb * n), dtype=dtype).reshape(nb, n)
    if qname == "q8_0":
        blocks = np.empty(nb, dtype=[("d", "<f2"), ("qs", "i1", 32)])
        blocks["d"] = np.float16(std * 1.7 / 127)
        # -128 is outside what a Q8_0 quantizer writes (|q| <= 127).
        blocks["qs"] = np.maximum(quants(32, np.int8), np.int8(-127))
    elif qname == "q4_0":
        blocks = np.empty(nb, dtype=[("d", "<f2"), ("qs", "u1", 16)])
        blocks["d"] = np.float16(std * 1.7 / 8)
        blocks["qs"] = quants(16, np.uint8)
    else:
        blocks = np.empty(nb, dtype=[("d", "<f2"), ("m", "<f2"), ("qs", "u1", 16)])
        blocks["d"] = np.float16(std * 1.7 / 8)
        blocks["m"] = np.float16(-std * 1.7)
        blocks["qs"] = quants(16, np.uint8)
    return blocks.view(np.uint8).reshape(rows, -1)


def write_model(shape_name, qname, out_dir):
    s = SHAPES[shape_name]
    path = os.path.join(out_dir, "%s.%s.gguf" % (shape_name, qname))
    rng = np.random.default_rng(1234)
    H, L, N, G, I, V = s["hidden"], s["layers"], s["heads"], s["kv"], s["ffn"], s["vocab"]
    hd = H // N
    qt = QTYPES[qname]
    w = gguf.GGUFWriter(None, "llama")
    w.add_name("%s-random" % shape_name)
    w.add_context_length(2048)
    w.add_embedding_length(H)
    w.add_feed_forward_length(I)
    w.add_block_count(L)
    w.add_head_count(N)
    w.add_head_count_kv(G)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(V)
    w.add_file_type(FILE_TYPES[qname])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(["<t%d>" % i for i in range(V)])
    w.add_token_types([gguf.TokenType.NORMAL] * V)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    # (name, rows, cols) of a matrix in `qname`, or (name, None, n) of an fp32
    # vector, in file order.
    specs = [("token_embd.weight", V, H)]
    for il in range(L):
        p = "blk.%d." % il
        specs += [(p + "attn_norm.weight", None, H), (p + "attn_q.weight", N * hd, H),
                  (p + "attn_k.weight", G * hd, H), (p + "attn_v.weight", G * hd, H),
                  (p + "attn_output.weight", H, N * hd), (p + "ffn_norm.weight", None, H),
                  (p + "ffn_gate.weight", I, H), (p + "ffn_up.weight", I, H),
                  (p + "ffn_down.weight", H, I)]
    specs.append(("output_norm.weight", None, H))
    if not s["tied"]:
        specs.append(("output.weight", V, H))
    block_bytes = BLOCK_BYTES[qname]
    for name, rows, cols in specs:
        if rows is None:
            w.add_tensor_info(name, (cols,), np.dtype(np.float32), cols * 4)
        else:
            nbytes = rows * cols // 32 * block_bytes
            w.add_tensor_info(name, (rows, nbytes // rows), np.dtype(np.uint8), nbytes,
                              raw_dtype=qt)
    # Written under another name and renamed when complete, so that an
    # interrupted run never leaves a model that --if-missing would keep.
    part = path + ".part"
    w.write_header_to_file(part)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, rows, cols in specs:
        if rows is None:
            w.write_tensor_data(np.ones(cols, dtype=np.float32))
        else:
            w.write_tensor_data(random_blocks(rng, rows, cols, qname))
    w.close()
    os.replace(part, path)
    print("wrote", path, "%.1f MiB" % (os.path.getsize(path) / 2**20))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--only", help="models, comma-separated, e.g. llama3-8b.q4_0 (see --list)")
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    ap.add_argument("--if-missing", action="store_true", help="keep models already written")
    a = ap.parse_args()
    if a.list:
        for shape_name, qname in MODELS + EXTRA:
            print("%s.%s%s" % (shape_name, qname, "" if (shape_name, qname) in MODELS else
                               "  (--only)"))
        return
    wanted = MODELS
    if a.only:
        names = a.only.split(",")
        wanted = [m for m in MODELS + EXTRA if "%s.%s" % m in names]
        unknown = set(names) - {"%s.%s" % m for m in wanted}
        if unknown:
            ap.error("no model %s; --list names them" % ", ".join(sorted(unknown)))
    os.makedirs(a.out, exist_ok=True)
    for shape_name, qname in wanted:
        path = os.path.join(a.out, "%s.%s.gguf" % (shape_name, qname))
        if a.if_missing and os.path.exists(path):
            print("kept", path)
            continue
        write_model(shape_name, qname, a.out)


if __name__ == "__main__":
    main()
