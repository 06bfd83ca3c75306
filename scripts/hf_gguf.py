"""Hugging Face <-> GGUF layout as llama.cpp's convert_hf_to_gguf.py defines
it for Llama and Qwen2: tensor names, the q/k row permutation, llama3
rope_freqs, metadata. Used by make_fixtures.py and make_smollm2_reference.py."""
import math
import os

import gguf
import numpy as np

FILE_TYPE = {gguf.GGMLQuantizationType.F32: gguf.LlamaFileType.ALL_F32,
             gguf.GGMLQuantizationType.BF16: gguf.LlamaFileType.MOSTLY_BF16,
             gguf.GGMLQuantizationType.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
             gguf.GGMLQuantizationType.Q4_0: gguf.LlamaFileType.MOSTLY_Q4_0,
             gguf.GGMLQuantizationType.Q4_1: gguf.LlamaFileType.MOSTLY_Q4_1}

HF_TO_GGUF_LAYER = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def hf_to_gguf_name(hf):
    top = {"model.embed_tokens.weight": "token_embd.weight",
           "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight"}
    if hf in top:
        return top[hf]
    parts = hf.split(".")  # model.layers.N.<module...>.<weight|bias>
    assert parts[:2] == ["model", "layers"], hf
    return "blk.%s.%s.%s" % (parts[2], HF_TO_GGUF_LAYER[".".join(parts[3:-1])], parts[-1])


def gguf_to_hf_name(g):
    inv = {v: k for k, v in HF_TO_GGUF_LAYER.items()}
    top = {"token_embd.weight": "model.embed_tokens.weight",
           "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
    if g in top:
        return top[g]
    _, layer, module, kind = g.split(".")
    return "model.layers.%s.%s.%s" % (layer, inv[module], kind)


def permute_rows(w, n_head):
    """The converter's q/k row order: within each head, interleave the two
    halves so adjacent-pair RoPE equals Hugging Face's rotate-half RoPE."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]) \
            .swapaxes(1, 2).reshape(w.shape)


def unpermute_rows(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]) \
            .swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(head_dim, theta, scaling):
    """rope_freqs.weight as the converter computes it: per dimension pair i the
    divisor applied to theta^(-2i/head_dim). Reads original_max_position_embeddings
    from rope_scaling (the converter reads the top level, where Llama 3.1 has
    none, falling back to the same 8192)."""
    freqs = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    factor = scaling["factor"]
    lo, hi = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_ctx = scaling["original_max_position_embeddings"]
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < old_ctx / hi:
            out.append(1.0)
        elif wavelen > old_ctx / lo:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - lo) / (hi - lo)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def byte_tokens():
    """GPT-2 byte-to-unicode spelling of the 256 byte values."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def write_gguf(path, cfg, state, qtype=gguf.GGMLQuantizationType.F32):
    """Writes `state` (HF names -> float32 numpy) the way convert_hf_to_gguf.py
    lays out a Llama/Qwen2 checkpoint. 2-D weights get `qtype`; 1-D stay F32."""
    arch = cfg.model_type
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    w = gguf.GGUFWriter(path, arch)
    w.add_name(os.path.basename(path).split(".")[0])
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(FILE_TYPE[qtype])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(byte_tokens())
    w.add_token_types([gguf.TokenType.NORMAL] * cfg.vocab_size)
    # No merges: gguf-py cannot write an empty array (add_token_merges([])
    # silently omits the key), so tokenizer.ggml.merges is absent.
    w.add_bos_token_id(cfg.bos_token_id)
    w.add_eos_token_id(cfg.eos_token_id)

    rope = cfg.rope_parameters
    if rope.get("rope_type") == "llama3":
        w.add_tensor("rope_freqs.weight",
                     llama3_rope_factors(head_dim, rope["rope_theta"], rope))
    for hf, t in state.items():
        if hf == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        name = hf_to_gguf_name(hf)
        t = np.ascontiguousarray(t, dtype=np.float32)
        if arch == "llama" and ".attn_q." in name:
            t = permute_rows(t, cfg.num_attention_heads)
        elif arch == "llama" and ".attn_k." in name:
            t = permute_rows(t, cfg.num_key_value_heads)
        if t.ndim == 2 and qtype != gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, gguf.quants.quantize(t, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_gguf_state(path, cfg):
    """HF-named float32 tensors from a GGUF: dequantized, q/k rows restored."""
    reader = gguf.GGUFReader(path)
    state = {}
    for t in reader.tensors:
        if t.name == "rope_freqs.weight":
            continue
        arr = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32)
        arr = arr.reshape([int(d) for d in reversed(t.shape)])
        if cfg.model_type == "llama" and ".attn_q." in t.name:
            arr = unpermute_rows(arr, cfg.num_attention_heads)
        elif cfg.model_type == "llama" and ".attn_k." in t.name:
            arr = unpermute_rows(arr, cfg.num_key_value_heads)
        state[gguf_to_hf_name(t.name)] = arr
    if cfg.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    return state
