#!/usr/bin/env python3
"""Makes the tokenizer fixtures and goldens under tests/data/tokenizer/.

Reference implementations (not ours): Hugging Face `tokenizers` for byte-level
BPE, `sentencepiece` for SentencePiece BPE, `transformers` for chat templates,
gguf-py for the GGUF fixture.

  llama3/   tokenizer.json (+config): small BPE trained with Llama 3's split regex
  qwen2/    tokenizer.json (+config): small BPE trained with Qwen2's split regex
  spm.gguf  SentencePiece BPE (byte_fallback) as a GGUF "llama" vocabulary
  goldens.json  strings, reference ids for each vocabulary (and SmolLM2's, from
                its GGUF when available), chat renderings.

Usage: python3 scripts/make_tokenizer_goldens.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import io
import json
import os
import subprocess
import sys
import unicodedata

import gguf
import sentencepiece as spm
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer")

LLAMA3_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

STRINGS = [
    "",
    "Hello world",
    "Hello, world! How are you today?",
    "  leading spaces",
    "trailing spaces   ",
    "multiple   spaces   between    words",
    " ",
    "    ",
    "a",
    "line1\nline2\n\nline4",
    "\n\n\n",
    "   \n  \n\t\n x",
    "x = y\r\nz\r\n",
    "tabs\tand\ttabs",
    "\t\tindented with tabs",
    "café naïve résumé façade",
    "Ünïcödé Ärger Öl",
    "日本語のテキストです。",
    "中文测试，你好世界！",
    "한국어 텍스트",
    "Ωμέγα ελληνικά",
    "Привет, мир",
    "¿Qué? ¡Sí!",
    "emoji 😀🎉 done",
    "👨‍👩‍👧 family",
    "digits 1234567890",
    "3.14159265358979",
    "long number 12345678901234567890123 end",
    "phone +1 (555) 010-9999",
    "١٢٣ Arabic-Indic digits and Ⅻ",
    "def f(x):\n    return x**2 + 1\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "I'm you're he's we've they'll I'd it's",
    "DON'T SHOUT, I'M HERE'S",
    "'quoted' \"double\" `tick`",
    "$$$ %%% ^^^ ... !!!",
    "https://example.com/path?q=1&b=2#frag",
    "nbsp\u00a0here and zero\u200bwidth",
    "mixed ÀÉÎ 123 abc 4567",
    "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
    "text<|im_end|>more text",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhey<|eot_id|>",
    "<s> a </s>b",
    "(parens)[brackets]{braces}",
]


def corpus():
    """Training text: some multilingual lines plus Python standard library source."""
    lines = [s for s in STRINGS if s] * 3
    extra = [
        "The quick brown fox jumps over the lazy dog. It's a test, isn't it?",
        "Les élèves étudient la littérature française à l'université.",
        "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
        "東京は日本の首都です。中文是世界上使用人数最多的语言之一。",
        "Numbers like 2024, 3.5 and 1,000,000 appear in text.",
    ] * 20
    import inspect, json as js, textwrap, string
    src = inspect.getsource(js.decoder) + inspect.getsource(textwrap) + inspect.getsource(string)
    return lines + extra + src.splitlines()


def train_bpe(split_re, specials, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_re), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    return tok


def save_hf(tok, name, config, nfc=False, ignore_merges=False):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    j = json.loads(tok.to_str())
    if nfc:
        j["normalizer"] = {"type": "NFC"}
    if ignore_merges:
        j["model"]["ignore_merges"] = True
    text = json.dumps(j, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    return Tokenizer.from_str(text)


LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}"
                   "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
                   "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
                   "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
                   "{% endif %}")
QWEN2_TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                  "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                  "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
                  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

CONVERSATIONS = [
    ([{"role": "user", "content": "What is 2+2?"}], True),
    ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi!"}], True),
    ([{"role": "user", "content": "  padded  "}, {"role": "assistant", "content": "Sure."},
      {"role": "user", "content": "Again\nplease"}], False),
]


def render_chats(tok_obj, template, bos=None, eos=None):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok_obj, bos_token=bos, eos_token=eos)
    out = []
    for msgs, gen in CONVERSATIONS:
        text = fast.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen,
                                        chat_template=template)
        out.append({"messages": msgs, "add_generation_prompt": gen, "expected": text})
    return out


def encode_all(tok):
    return [tok.encode(s, add_special_tokens=False).ids for s in STRINGS]


def smollm2_reference(path):
    r = gguf.GGUFReader(path)
    f = r.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    merges = [tuple(m.split(" ", 1)) for m in f["tokenizer.ggml.merges"].contents()]
    template = f["tokenizer.chat_template"].contents()
    assert f["tokenizer.ggml.pre"].contents() == "smollm"
    # SmolLM2's tokenizer.json: Digits(individual) then GPT-2 ByteLevel.
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([t for t, ty in zip(tokens, types) if ty == 3])
    return {"ids": encode_all(tok), "chat": render_chats(tok, template)}


def make_spm():
    text = "\n".join(corpus())
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text.splitlines()), model_writer=model, model_type="bpe",
        vocab_size=700, byte_fallback=True, split_digits=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, allow_whitespace_only_pieces=True,
        character_coverage=0.9995, user_defined_symbols=["<|im_start|>", "<|im_end|>"],
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    n = sp.get_piece_size()
    pieces = [sp.id_to_piece(i) for i in range(n)]
    user = {"<|im_start|>", "<|im_end|>"}
    types = []
    for i in range(n):
        if sp.is_unknown(i): types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i): types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i): types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i): types.append(gguf.TokenType.UNUSED)
        elif pieces[i] in user: types.append(gguf.TokenType.USER_DEFINED)
        else: types.append(gguf.TokenType.NORMAL)
    path = os.path.join(OUT, "spm.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores([sp.get_score(i) for i in range(n)])
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    # Rule shared with llama.cpp and legacy Hugging Face Llama tokenizers:
    # special pieces are matched whole, and each text run between them is
    # encoded on its own (so it gets SentencePiece's dummy "▁" prefix).
    specials = sorted((p for p, t in zip(pieces, types)
                       if t in (gguf.TokenType.CONTROL, gguf.TokenType.USER_DEFINED,
                                gguf.TokenType.UNKNOWN)), key=len, reverse=True)

    def encode(s):
        ids, run, i = [], "", 0
        while i < len(s):
            hit = next((p for p in specials if s.startswith(p, i)), None)
            if hit is None:
                run += s[i]
                i += 1
                continue
            if run:
                ids += sp.encode(run)
            run = ""
            ids.append(sp.piece_to_id(hit))
            i += len(hit)
        if run:
            ids += sp.encode(run)
        return ids

    return {"file": "spm.gguf", "ids": [encode(s) for s in STRINGS],
            "bos_id": sp.bos_id(), "eos_id": sp.eos_id()}


def main():
    for s in STRINGS:
        assert unicodedata.is_normalized("NFC", s), s
    os.makedirs(OUT, exist_ok=True)
    goldens = {"strings": STRINGS}

    l3 = train_bpe(LLAMA3_RE, ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                               "<|end_header_id|>", "<|eot_id|>"], 900)
    l3.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])
    l3 = save_hf(l3, "llama3", {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
                                "chat_template": LLAMA3_TEMPLATE}, ignore_merges=True)
    goldens["llama3"] = {
        "dir": "llama3", "ids": encode_all(l3),
        "with_bos": l3.encode("Hello world", add_special_tokens=True).ids,
        "chat": render_chats(l3, LLAMA3_TEMPLATE, bos="<|begin_of_text|>")}

    q2 = train_bpe(QWEN2_RE, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], 900)
    q2 = save_hf(q2, "qwen2", {"eos_token": "<|im_end|>", "add_bos_token": False,
                               "chat_template": QWEN2_TEMPLATE}, nfc=True)
    goldens["qwen2"] = {
        "dir": "qwen2", "ids": encode_all(q2),
        "with_bos": q2.encode("Hello world", add_special_tokens=True).ids,
        "chat": render_chats(q2, QWEN2_TEMPLATE)}

    goldens["spm"] = make_spm()

    smol = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        [os.path.join(ROOT, "scripts", "fetch-model")], capture_output=True,
        text=True).stdout.strip()
    if smol and os.path.exists(smol):
        goldens["smollm2"] = smollm2_reference(smol)
    else:
        print("SmolLM2 GGUF not found: no smollm2 goldens", file=sys.stderr)

    with open(os.path.join(OUT, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=False, indent=0)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
