#!/usr/bin/env python3
"""Makes tests/data/tokenizer/nfc_goldens.json: strings that are not in NFC,
encoded by Hugging Face `tokenizers` (the reference, not ours) with the Qwen2
fixture's tokenizer.json, whose normalizer is NFC. The C++ tokenizer must
give the same ids.

Usage: python3 scripts/make_nfc_goldens.py   (needs: pip install tokenizers)
"""
import json
import os
import unicodedata

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "tests", "data", "tokenizer")

STRINGS = [
    "Cafe\u0301",                         # e + combining acute -> é
    "A\u030angstro\u0308m",               # A + ring, o + diaeresis
    "\u212b",                             # ANGSTROM SIGN -> Å (a singleton)
    "\u1100\u1161\u11a8",                 # Hangul jamo -> one syllable
    "\u1e9b\u0323",                       # long s with dot above + dot below
    "na\u0308ive re\u0301sume\u0301 <|im_start|>e\u0301",  # around an added token
    "\u0041\u0301\u0301x",                # two combining marks
    "plain ascii stays",
]


def main():
    tok = Tokenizer.from_file(os.path.join(DIR, "qwen2", "tokenizer.json"))
    cases = []
    for s in STRINGS:
        cases.append({"text": s, "nfc": unicodedata.normalize("NFC", s),
                      "ids": tok.encode(s, add_special_tokens=False).ids})
    assert any(c["text"] != c["nfc"] for c in cases)
    with open(os.path.join(DIR, "nfc_goldens.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "qwen2", "cases": cases}, f, ensure_ascii=False, indent=1)
    print("wrote", os.path.join(DIR, "nfc_goldens.json"))


if __name__ == "__main__":
    main()
