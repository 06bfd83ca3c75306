#!/usr/bin/env python3
"""Two views of decode speed, from `groupshard bench --json`.

profile: where a decode step's time goes, per shape. The per-kind breakdown
  of rank 0 (mean ms per step, and share of the step) for each model and
  layout, one markdown table; for the products also the rate at which rank 0
  reads its share of the weights (GB/s), the figure to hold against the
  probe at batch 1.

ceiling: the compute ceiling of batched decode and how close `bench --batch`
  gets. At batch 16 a step is bound by the quantized products, not by memory:
  the weights are read once per step for 16 tokens. The ceiling is
      per rank: sum over its weight matrices of (multiply-adds per token) / rate(dtype)
      tokens/s = 1 / (the slowest rank's seconds per token)
  where rate(dtype) is what `quant_kernels_bench` measures for the kernel at
  16 tokens on weights resident in cache (BM_QuantRows), times the threads of
  a rank. Attention, norms and collectives are left out: they are the
  difference between the ceiling and the measured rate.

A rank's share of each matrix comes from `groupshard plan --tp P --json` (its
query heads, KV groups, MLP columns and vocabulary rows), so uneven plans
count as they run. Needs the gguf module (scripts/setup puts it in .venv).

Usage: scripts/decode-profile [--repeat N] [--only smollm2,1b.q8_0,...]
       scripts/batch-ceiling [--model GGUF] [--batch 16] [--repeat 3]
"""
import argparse
import json
import os
import subprocess
import sys

import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
LAYOUTS = [  # label, launcher words, ranks, threads per rank
    ("1x2", ["-np", "1", "--map-by", "slot:PE=2", "--bind-to", "core"], 1, 2),
    ("2x1", ["-np", "2", "--bind-to", "core"], 2, 1),
]
BYTES_PER_ELEMENT = {"Q8_0": 34 / 32, "Q4_0": 18 / 32, "Q4_1": 20 / 32, "F16": 2, "BF16": 2, "F32": 4}
# The bench breakdown's label of each kind of matrix.
LABEL = {"q": "matmul_qkv", "kv": "matmul_qkv", "o": "matmul_o", "mlp_in": "matmul_gate_up",
         "mlp_out": "matmul_down", "lm_head": "matmul_lm_head"}
KINDS = ["matmul_qkv", "attention", "matmul_o", "matmul_gate_up", "silu_mul", "matmul_down",
         "matmul_lm_head", "rms_norm", "rope", "kv_append", "add", "embedding", "copy",
         "collectives", "other"]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def fetch_model():
    return run([os.path.join(ROOT, "scripts/fetch-model")]).strip()


def kernel_rates(bench_bin, tokens):
    """Multiply-adds per second of one core, by dtype name, at `tokens` tokens."""
    out = run([bench_bin, "--benchmark_filter=BM_QuantRows/.*/%d$" % tokens, "--benchmark_format=json",
               "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"])
    rates = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "mean":
            rates[b["label"].split()[0]] = b["items_per_second"]
    return rates


def matrices(model_path):
    """(kind, dtype, rows, cols) of the products of one token; kind says how it is split."""
    r = gguf.GGUFReader(model_path)
    out = []
    names = {t.name for t in r.tensors}
    for t in r.tensors:
        if len(t.shape) != 2:
            continue
        cols, rows = int(t.shape[0]), int(t.shape[1])  # GGUF lists the fastest axis first
        name = t.name
        kind = None
        if name.endswith("attn_q.weight"):
            kind = "q"
        elif name.endswith("attn_k.weight") or name.endswith("attn_v.weight"):
            kind = "kv"
        elif name.endswith("attn_output.weight"):
            kind = "o"
        elif name.endswith("ffn_gate.weight") or name.endswith("ffn_up.weight"):
            kind = "mlp_in"
        elif name.endswith("ffn_down.weight"):
            kind = "mlp_out"
        elif name == "output.weight" or (name == "token_embd.weight" and "output.weight" not in names):
            kind = "lm_head"
        if kind:
            out.append((kind, t.tensor_type.name, rows, cols))
    return out

def shares(plan, rank):
    """Fraction of each kind of matrix that `rank` holds."""
    r = plan["ranks"][rank]
    span = lambda key: r[key][1] - r[key][0]
    heads, groups = plan["n_heads"], plan["n_kv_heads"]
    inter, vocab = plan["intermediate_size"], plan["vocab_size"]
    return {"q": span("q_heads") / heads, "o": span("q_heads") / heads, "kv": span("kv_groups") / groups,
            "mlp_in": span("mlp_cols") / inter, "mlp_out": span("mlp_cols") / inter,
            "lm_head": span("vocab_rows") / vocab}


def plan_of(gs, model, P):
    return json.loads(run([gs, "plan", "--model", model, "--tp", str(P), "--json"]))


def bench(gs, model, launch, threads, batch, prompt_tokens, gen_tokens, repeat, extra=()):
    return json.loads(run(MPI + launch + [gs, "bench", "--model", model, "--threads", str(threads),
                                          "--batch", str(batch), "--prompt-tokens", str(prompt_tokens),
                                          "--gen-tokens", str(gen_tokens), "--repeat", str(repeat), "--json"]
                          + list(extra)))


def ceiling(a):
    model = a.model or fetch_model()
    gs = os.path.join(a.build, "bin/groupshard")
    rates = kernel_rates(os.path.join(a.build, "bin/quant_kernels_bench"), a.batch)
    mats = matrices(model)
    print("model %s, batch %d" % (os.path.basename(model), a.batch))
    print("kernel rate per core at %d tokens (quant_kernels_bench, BM_QuantRows): %s" % (
        a.batch, ", ".join("%s %.1f G multiply-adds/s" % (k, v / 1e9) for k, v in sorted(rates.items()))))
    missing = sorted({d for _, d, _, _ in mats} - set(rates))
    if missing:
        sys.exit("batch-ceiling: no kernel rate for %s (quantized weights only)" % ", ".join(missing))
    for label, launch, P, threads in LAYOUTS:
        plan = plan_of(gs, model, P)
        seconds = []
        for rank in range(P):
            s = shares(plan, rank)
            seconds.append(sum(s[k] * rows * cols / (rates[d] * threads) for k, d, rows, cols in mats))
        top = 1.0 / max(seconds)
        even = 1.0 / (sum(seconds) / P)  # if the plan split the work evenly
        got = bench(gs, model, launch, threads, a.batch, a.prompt_tokens, a.gen_tokens, a.repeat)["decode_tokens_per_s"]
        print("%s: ceiling %.0f tokens/s (%.0f with an even split), bench --batch %d: %.1f tokens/s = %.0f%% "
              "of the ceiling (%.0f%% of the even split); products per token on the slowest rank %.3f ms" % (
                  label, top, even, a.batch, got, 100 * got / top, 100 * got / even, 1e3 * max(seconds)))


def profile(a):
    gs = os.path.join(a.build, "bin/groupshard")
    bench_dir = os.environ.get("GS_BENCH_DIR", os.path.expanduser("~/.cache/groupshard/bench"))
    smol = fetch_model()
    models = {  # key: path, prompt tokens, decode steps, batch[, more bench arguments]
        "smollm2": (smol, 32, 64, 1),
        "smollm2.b16": (smol, 8, 64, 16),
        # A long chat: 2048 tokens of f16 keys and values read with the weights.
        "smollm2.ctx2048": (smol, 2048, 32, 1, ("--kv-dtype", "f16")),
        "135m.q8_0": (os.path.join(bench_dir, "smollm2-135m.q8_0.gguf"), 32, 64, 1),
        "135m.q4_0": (os.path.join(bench_dir, "smollm2-135m.q4_0.gguf"), 32, 64, 1),
        "135m.bf16": (os.path.join(bench_dir, "smollm2-135m.bf16.gguf"), 32, 64, 1),
        "135m.f16": (os.path.join(bench_dir, "smollm2-135m.f16.gguf"), 32, 64, 1),
        "1b.q8_0": (os.path.join(bench_dir, "llama-1b.q8_0.gguf"), 32, 32, 1),
        "1b.q4_0": (os.path.join(bench_dir, "llama-1b.q4_0.gguf"), 32, 32, 1),
        "1b.bf16": (os.path.join(bench_dir, "llama-1b.bf16.gguf"), 32, 16, 1),
        "8b.q4_0": (os.path.join(bench_dir, "llama3-8b.q4_0.gguf"), 16, 16, 1),
    }
    keys = [k for k in models if not a.only or k in a.only.split(",")]
    wanted = [os.path.basename(models[k][0])[:-len(".gguf")] for k in keys if models[k][0] != smol]
    if wanted:
        run([sys.executable, os.path.join(ROOT, "scripts/make_bench_models.py"), "--if-missing",
             "--only", ",".join(wanted)])
    cols = []
    for k in keys:
        path, pt, gt, batch = models[k][:4]
        extra = models[k][4] if len(models[k]) > 4 else ()
        mats = matrices(path)
        for label, launch, P, threads in LAYOUTS:
            j = bench(gs, path, launch, threads, batch, pt, gt, a.repeat, extra)
            s = shares(plan_of(gs, path, P), 0)
            read = {}  # bytes of weights rank 0 reads per step, by breakdown label
            for kind, d, rows, cols_ in mats:
                read[LABEL[kind]] = read.get(LABEL[kind], 0.0) + s[kind] * rows * cols_ * BYTES_PER_ELEMENT[d]
            cols.append(("%s %s" % (k, label), j, read))
    print("| kind | " + " | ".join(c for c, _, _ in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for kind in KINDS:
        cells = []
        for _, j, read in cols:
            step = j["decode_step"]["rank0"]["step_ms"]["mean"]
            b = j["decode_step"]["breakdown"].get(kind)
            if not b or b["ms"] <= 0:
                cells.append("—")
                continue
            cell = "%.3f (%.0f%%)" % (b["ms"], 100 * b["ms"] / step)
            if kind in read and j["batch"] == 1:
                cell += " %.1f GB/s" % (read[kind] / b["ms"] / 1e6)
            cells.append(cell)
        print("| %s | %s |" % (kind, " | ".join(cells)))
    print("| step ms | %s |" % " | ".join("%.3f" % j["decode_step"]["rank0"]["step_ms"]["mean"] for _, j, _ in cols))
    print("| tokens/s | %s |" % " | ".join("%.1f" % j["decode_tokens_per_s"] for _, j, _ in cols))
    print("| probe GB/s | %s |" % " | ".join("%.1f" % j["probe_gb_per_s"] for _, j, _ in cols))
    print("| roofline | %s |" % " | ".join("%.0f%%" % (100 * j["roofline_fraction"]) for _, j, _ in cols))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("ceiling")
    c.add_argument("--model", help="GGUF file (default: the SmolLM2 of scripts/fetch-model)")
    c.add_argument("--batch", type=int, default=16)
    c.add_argument("--repeat", type=int, default=3)
    c.add_argument("--prompt-tokens", type=int, default=8)
    c.add_argument("--gen-tokens", type=int, default=64)
    p = sub.add_parser("profile")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--only", default="", help="comma-separated model keys (default: all)")
    a = ap.parse_args()
    ceiling(a) if a.cmd == "ceiling" else profile(a)


if __name__ == "__main__":
    main()
