#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
from the fixtures in tests/data. Deterministic; no dependencies beyond the
standard library. Seeds are kept small: big fixtures are cut down (GGUF
metadata without tensors, safetensors with a few small tensors) or skipped.

    python3 tests/fuzz/make_corpus.py   # rewrites tests/fuzz/corpus
"""
import hashlib
import json
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
OUT = ROOT / "tests" / "fuzz" / "corpus"

shutil.rmtree(OUT, ignore_errors=True)


def put(target, data, name=None):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    (d / name).write_bytes(data)


def split(first, rest):
    """The two-part input of the directory targets: <u32 len(first)><first><rest>."""
    return struct.pack("<I", len(first)) + first + rest


# --- GGUF --------------------------------------------------------------------
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(b, pos, t):
    if t in SCALAR:
        return pos + SCALAR[t]
    if t == 8:
        (n,) = struct.unpack_from("<Q", b, pos)
        return pos + 8 + n
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, pos)
        pos += 12
        for _ in range(n):
            pos = skip_value(b, pos, et)
        return pos
    raise ValueError(f"bad GGUF type {t}")


def gguf_metadata_only(b):
    """The header and metadata of a GGUF file, with an empty tensor directory."""
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", b, 0)
    assert magic == b"GGUF"
    pos = 24
    for _ in range(n_kv):
        (n,) = struct.unpack_from("<Q", b, pos)
        pos += 8 + n
        (t,) = struct.unpack_from("<I", b, pos)
        pos = skip_value(b, pos + 4, t)
    return struct.pack("<4sIQQ", magic, version, 0, n_kv) + b[24:pos]


ggufs = sorted(DATA.glob("models/*.gguf")) + [DATA / "tokenizer" / "spm.gguf"]
for p in ggufs:
    b = p.read_bytes()
    if len(b) <= 250 * 1024 or p.name == "qwen2.gguf":  # qwen2: the biased, unpermuted arch
        put("gguf", b, p.stem)
    put("gguf", gguf_metadata_only(b), p.stem + ".meta")
    put("tokenizer_gguf", gguf_metadata_only(b), p.stem)

# --- safetensors + config.json ------------------------------------------------


def small_safetensors(b, budget=48 * 1024):
    """The same header format with only the smallest tensors, up to `budget` bytes."""
    (n,) = struct.unpack_from("<Q", b, 0)
    header = json.loads(b[8 : 8 + n])
    data = b[8 + n :]
    entries = sorted(
        (k for k in header if k != "__metadata__"),
        key=lambda k: (header[k]["data_offsets"][1] - header[k]["data_offsets"][0], k),
    )
    out_header, blobs, off = {}, [], 0
    for k in entries:
        s, e = header[k]["data_offsets"]
        if off + (e - s) > budget:
            break
        out_header[k] = dict(header[k], data_offsets=[off, off + e - s])
        blobs.append(data[s:e])
        off += e - s
    if "__metadata__" in header:
        out_header["__metadata__"] = header["__metadata__"]
    h = json.dumps(out_header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


for d in sorted(p for p in (DATA / "models").iterdir() if p.is_dir()):
    config = (d / "config.json").read_bytes()
    for st in sorted(d.glob("*.safetensors")):
        b = st.read_bytes()
        put("safetensors", split(config, small_safetensors(b)), f"{d.name}.{st.stem}.small")
        if len(b) <= 250 * 1024 and "sharded" not in d.name:  # one whole model: mha_bf16
            put("safetensors", split(config, b), f"{d.name}.{st.stem}")
    put("safetensors", split(config, b""), f"{d.name}.config_only")

# --- tokenizer.json ---------------------------------------------------------------
for d in sorted(p for p in (DATA / "tokenizer").iterdir() if p.is_dir()):
    tok = (d / "tokenizer.json").read_bytes()
    cfg = d / "tokenizer_config.json"
    put("tokenizer_json", split(cfg.read_bytes() if cfg.exists() else b"", tok), d.name)
    put("tokenizer_json", split(b"", tok), d.name + ".no_config")

# --- Encode/Decode text (first byte: flags, bit 0 picks qwen2 / spm) -------------
texts = []
goldens = json.loads((DATA / "tokenizer" / "goldens.json").read_text())
strings = goldens.get("strings", [])
texts += strings if isinstance(strings, list) else list(strings.values())
texts.append((DATA / "perplexity" / "text.txt").read_text()[:2000])
texts += ["<|im_start|>user\nhi<|im_end|>", "<s>[INST] hi [/INST]", "\xff\xfe", ""]
for i, t in enumerate(texts):
    if not isinstance(t, str):
        continue
    raw = t.encode("utf-8", "surrogatepass")
    extra = (0, 2 | 4, 2 | 8, 4 | 8)[i % 4]
    for flags in (extra, 1 | extra):
        put("tokenize", bytes([flags]) + raw, f"text{i:02d}.f{flags}")

# --- GenerateRequest (protobuf wire format by hand) -------------------------------


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        out.append(byte | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + struct.pack("<f", payload)
    return key + varint(len(payload)) + payload


def msg(role, content):
    return field(1, 2, role.encode()) + field(2, 2, content.encode())


sampling = field(1, 5, 0.7) + field(2, 0, 40) + field(3, 5, 0.9) + field(4, 5, 0.05) + \
    field(5, 5, 1.1) + field(6, 0, 1234)
requests = {
    "prompt": field(1, 2, b"r1") + field(2, 2, b"hello there") + field(6, 0, 8),
    "prompt_stop": field(2, 2, "héllo wörld".encode()) + field(7, 2, b"xy") + field(7, 2, b"\n") +
    field(8, 0, 1) + field(5, 2, sampling),
    "ids": field(3, 2, b"".join(varint(i) for i in (5, 250, 17, 0))) + field(9, 0, 1),
    "ids_unpacked": field(3, 0, 5) + field(3, 0, 42) + field(6, 0, 16),
    "messages": field(4, 2, msg("system", "be brief")) + field(4, 2, msg("user", "hi")) +
    field(4, 2, msg("assistant", "hello")) + field(4, 2, msg("user", "again")),
    "greedy": field(2, 2, b"x") + field(5, 2, field(1, 5, 0.0)),
    "bad_utf8": field(2, 2, b"a\xc0\x80b") + field(7, 2, b"\xed\xa0\x80"),
}
for name, b in requests.items():
    put("request", b, name)

total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
print(f"corpus: {sum(1 for f in OUT.rglob('*') if f.is_file())} files, {total / 1e6:.2f} MB in {OUT}")
assert total < 5_000_000, "keep the committed corpus under 5 MB"
