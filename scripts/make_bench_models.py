#!/usr/bin/env python3
"""Random-weight GGUF models of real shapes for `groupshard bench`, written
with gguf-py into ~/.cache/groupshard/bench/ (never committed: the 1B one is
over a gigabyte). Only speed is measured on them, so the quantized blocks are
drawn directly (random int quants, fixed-size scales) instead of quantizing
random floats, which would take minutes of numpy for the 1B shape.

  python3 scripts/make_bench_models.py            # all models
  python3 scripts/make_bench_models.py --only smollm2-135m.q8_0
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
}
MODELS = [("llama-1b", "q8_0"), ("smollm2-135m", "q8_0"), ("smollm2-135m", "q4_1")]
QTYPES = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_1": gguf.GGMLQuantizationType.Q4_1,
          "q4_0": gguf.GGMLQuantizationType.Q4_0}
FILE_TYPES = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
              "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}


def random_blocks(rng, rows, cols, qname, std=0.02):
    """rows x cols in GGUF block layout as uint8 [rows, row_bytes]; weights of
    roughly standard deviation `std`."""
    nb = rows * cols // 32
    if qname == "q8_0":
        blocks = np.empty(nb, dtype=[("d", "<f2"), ("qs", "i1", 32)])
        blocks["d"] = np.float16(std * 1.7 / 127)
        blocks["qs"] = rng.integers(-127, 128, size=(nb, 32), dtype=np.int8)
    elif qname == "q4_0":
        blocks = np.empty(nb, dtype=[("d", "<f2"), ("qs", "u1", 16)])
        blocks["d"] = np.float16(std * 1.7 / 8)
        blocks["qs"] = rng.integers(0, 256, size=(nb, 16), dtype=np.uint8)
    else:
        blocks = np.empty(nb, dtype=[("d", "<f2"), ("m", "<f2"), ("qs", "u1", 16)])
        blocks["d"] = np.float16(std * 1.7 / 8)
        blocks["m"] = np.float16(-std * 1.7)
        blocks["qs"] = rng.integers(0, 256, size=(nb, 16), dtype=np.uint8)
    return blocks.view(np.uint8).reshape(rows, -1)


def write_model(shape_name, qname, out_dir):
    s = SHAPES[shape_name]
    path = os.path.join(out_dir, "%s.%s.gguf" % (shape_name, qname))
    rng = np.random.default_rng(1234)
    H, L, N, G, I, V = s["hidden"], s["layers"], s["heads"], s["kv"], s["ffn"], s["vocab"]
    hd = H // N
    qt = QTYPES[qname]
    w = gguf.GGUFWriter(path, "llama")
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

    def matrix(name, rows, cols):
        w.add_tensor(name, random_blocks(rng, rows, cols, qname), raw_dtype=qt)

    matrix("token_embd.weight", V, H)
    for il in range(L):
        p = "blk.%d." % il
        w.add_tensor(p + "attn_norm.weight", np.ones(H, dtype=np.float32))
        matrix(p + "attn_q.weight", N * hd, H)
        matrix(p + "attn_k.weight", G * hd, H)
        matrix(p + "attn_v.weight", G * hd, H)
        matrix(p + "attn_output.weight", H, N * hd)
        w.add_tensor(p + "ffn_norm.weight", np.ones(H, dtype=np.float32))
        matrix(p + "ffn_gate.weight", I, H)
        matrix(p + "ffn_up.weight", I, H)
        matrix(p + "ffn_down.weight", H, I)
    w.add_tensor("output_norm.weight", np.ones(H, dtype=np.float32))
    if not s["tied"]:
        matrix("output.weight", V, H)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", path, "%.1f MiB" % (os.path.getsize(path) / 2**20))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--only", help="one model, e.g. smollm2-135m.q4_1")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for shape_name, qname in MODELS:
        if a.only and a.only != "%s.%s" % (shape_name, qname):
            continue
        write_model(shape_name, qname, a.out)


if __name__ == "__main__":
    main()
