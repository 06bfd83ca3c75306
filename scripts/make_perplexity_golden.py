#!/usr/bin/env python3
"""Perplexity goldens for `groupshard perplexity`, computed by transformers.

Runs the tiny random fixture tests/data/models/gqa (LlamaForCausalLM, float32)
over a fixed English text with the sliding-window loop of the Hugging Face
perplexity guide (https://huggingface.co/docs/transformers/perplexity) for a
few (context, stride) pairs, and writes

  tests/data/perplexity/text.txt          the text
  tests/data/perplexity/gqa.golden.json   token ids and the perplexities

The fixtures have no tokenizer.json; their .gguf copies carry a 256-token
byte-level vocabulary (one token per byte, GPT-2's byte-to-unicode spelling),
so the text is tokenized here by looking each byte's spelling up in
gqa.gguf's token list (gguf-py), with no BOS.

    python3 scripts/make_perplexity_golden.py
"""
import json
import math
import os

import torch
from gguf import GGUFReader
from transformers import LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "data", "models")
OUT = os.path.join(ROOT, "tests", "data", "perplexity")

TEXT = (
    "Grouped-query attention lets several query heads share one key and value head. "
    "A model with thirty-two query heads and eight key-value groups keeps a quarter of "
    "the key-value cache that multi-head attention would need, and the saving grows with "
    "the length of every sequence it serves. The price is some loss of quality, which a "
    "short round of further training mostly recovers. Perplexity measures that loss: it is "
    "the exponential of the mean negative log-likelihood the model assigns to each token "
    "of a text, given the tokens before it. A sliding window keeps the context of every "
    "scored token long when the text is longer than the model can see at once; each window "
    "scores only the tokens that no earlier window scored.\n"
)

# (context, stride): no overlap, overlap, odd sizes, a stride past the window.
CASES = [(128, 128), (128, 64), (100, 37), (64, 200), (700, 512)]


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def byte_tokens(gguf_path, text):
    r = GGUFReader(gguf_path)
    f = r.fields["tokenizer.ggml.tokens"]
    vocab = {bytes(f.parts[i]).decode("utf-8"): n for n, i in enumerate(f.data)}
    spell = bytes_to_unicode()
    return [vocab[spell[b]] for b in text.encode("utf-8")]


def guide_perplexity(model, ids, max_length, stride):
    """The perplexity guide's loop, batch size 1, weighting each window's mean
    loss by the number of tokens it really scored. (The guide as written
    weights by num_valid_tokens - batch_size, which is one too few for every
    window after the first when windows overlap: there the window's first
    token is not a label, so the label shift drops nothing. Returned too, as
    the third value, for comparison.)"""
    input_all = torch.tensor([ids])
    seq_len = input_all.size(1)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    guide_sum, guide_n = 0.0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = input_all[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            out = model(input_ids, labels=target_ids)
        # Labels are shifted inside the model: token i is predicted at i-1.
        scored = (target_ids[:, 1:] != -100).sum().item()
        if scored > 0:
            nll_sum += out.loss.double().item() * scored
            n_tokens += scored
            guide_n_window = (target_ids != -100).sum().item() - target_ids.size(0)
            guide_sum += out.loss.double().item() * guide_n_window
            guide_n += guide_n_window
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return math.exp(nll_sum / n_tokens), nll_sum / n_tokens, n_tokens, math.exp(guide_sum / guide_n)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "text.txt"), "w") as f:
        f.write(TEXT)
    ids = byte_tokens(os.path.join(MODELS, "gqa.gguf"), TEXT)
    model = LlamaForCausalLM.from_pretrained(os.path.join(MODELS, "gqa"), torch_dtype=torch.float32)
    model.eval()
    cases = []
    for ctx, stride in CASES:
        ppl, nll, n, as_written = guide_perplexity(model, ids, ctx, stride)
        assert math.isfinite(ppl)
        cases.append({"context": ctx, "stride": stride, "perplexity": ppl, "mean_nll": nll,
                      "n_scored": n, "guide_as_written": as_written})
        print(f"context {ctx} stride {stride}: perplexity {ppl:.6f} over {n} tokens "
              f"(guide as written: {as_written:.6f})")
    golden = {"model": "models/gqa", "text_file": "perplexity/text.txt", "token_ids": ids,
              "cases": cases}
    with open(os.path.join(OUT, "gqa.golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
