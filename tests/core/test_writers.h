// Small writers of GGUF and safetensors files for loader tests, and a tiny
// Llama-shaped model whose values are exact in every dtype we read
// (multiples of 0.25 in [-1.75, 1.75]: exact in F16, BF16, Q8_0, Q4_0, Q4_1).
// Header-only because the test build compiles only *_test.cc files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/dtype.h"
#include "core/weight_source.h"

namespace gs::testing {

// A whole tensor read as fp32 (expecting success).
inline std::vector<float> ReadAll(const WeightSource& src, const std::string& name) {
  const TensorInfo* t = src.Find(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  std::vector<float> out(t->rows() * t->cols());
  Status s = src.ReadF32(name, {0, t->rows()}, {0, t->cols()}, out.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}


inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
void Put(std::vector<uint8_t>* b, T v) {
  uint8_t tmp[sizeof(T)];
  std::memcpy(tmp, &v, sizeof(T));
  b->insert(b->end(), tmp, tmp + sizeof(T));
}

inline void PutString(std::vector<uint8_t>* b, const std::string& s) {
  Put<uint64_t>(b, s.size());
  b->insert(b->end(), s.begin(), s.end());
}

// ggml type ids (ggml.h) used by the writers.
enum GgmlType : uint32_t {
  kGgmlF32 = 0,
  kGgmlF16 = 1,
  kGgmlQ4_0 = 2,
  kGgmlQ4_1 = 3,
  kGgmlQ8_0 = 8,
  kGgmlBF16 = 30
};

// Encodes floats that are exact multiples of 0.25 in [-1.75, 1.75] (a whole
// number of 32-blocks for quantized types) in the given ggml type.
inline std::vector<uint8_t> EncodeExact(uint32_t type, const std::vector<float>& v) {
  std::vector<uint8_t> b;
  const float d = 0.25f;
  auto q = [&](size_t i) { return static_cast<int>(v[i] / d); };  // in [-7, 7]
  for (size_t i = 0; i < v.size(); ++i) {
    if (type == kGgmlF32) Put<float>(&b, v[i]);
    if (type == kGgmlF16) Put<uint16_t>(&b, FloatToHalf(v[i]));
    if (type == kGgmlBF16) Put<uint16_t>(&b, FloatToBFloat16(v[i]));
    if (i % 32 != 0) continue;
    if (type == kGgmlQ8_0) {
      Put<uint16_t>(&b, FloatToHalf(d));
      for (size_t j = 0; j < 32; ++j) Put<int8_t>(&b, static_cast<int8_t>(q(i + j)));
    } else if (type == kGgmlQ4_0 || type == kGgmlQ4_1) {
      Put<uint16_t>(&b, FloatToHalf(d));
      if (type == kGgmlQ4_1) Put<uint16_t>(&b, FloatToHalf(-2.0f));  // m
      // Q4_0 decodes (q-8)*d, Q4_1 q*d+m = q*0.25-2: either way q = v/d + 8.
      for (size_t j = 0; j < 16; ++j) {
        const int lo = q(i + j) + 8, hi = q(i + j + 16) + 8;
        Put<uint8_t>(&b, static_cast<uint8_t>(lo | (hi << 4)));
      }
    }
  }
  return b;
}

// Builds a GGUF file in memory: metadata first, then tensors, data aligned.
class GgufWriter {
 public:
  // A metadata entry from its raw encoding (type id + payload), so tests can
  // also write malformed values.
  void AddRaw(const std::string& key, uint32_t type, std::vector<uint8_t> payload) {
    kvs_.push_back({key, type, std::move(payload)});
  }
  void AddU32(const std::string& k, uint32_t v) { AddPod(k, 4, v); }
  void AddI32(const std::string& k, int32_t v) { AddPod(k, 5, v); }
  void AddF32(const std::string& k, float v) { AddPod(k, 6, v); }
  void AddU64(const std::string& k, uint64_t v) { AddPod(k, 10, v); }
  void AddString(const std::string& k, const std::string& v) {
    std::vector<uint8_t> p;
    PutString(&p, v);
    AddRaw(k, 8, std::move(p));
  }
  void AddStringArray(const std::string& k, const std::vector<std::string>& v) {
    std::vector<uint8_t> p;
    Put<uint32_t>(&p, 8);
    Put<uint64_t>(&p, v.size());
    for (const auto& s : v) PutString(&p, s);
    AddRaw(k, 9, std::move(p));
  }
  void AddI32Array(const std::string& k, const std::vector<int32_t>& v) {
    std::vector<uint8_t> p;
    Put<uint32_t>(&p, 5);
    Put<uint64_t>(&p, v.size());
    for (int32_t x : v) Put<int32_t>(&p, x);
    AddRaw(k, 9, std::move(p));
  }
  // `ne` fastest-first, as GGUF stores it.
  void AddTensor(const std::string& name, uint32_t type, std::vector<int64_t> ne,
                 std::vector<uint8_t> data) {
    tensors_.push_back({name, type, std::move(ne), std::move(data)});
  }

  std::vector<uint8_t> Serialize(uint32_t version = 3, uint64_t alignment = 32) const {
    // Reserved first: growing a 4-byte vector here trips a GCC 12
    // -Warray-bounds false positive once inlined into some callers.
    std::vector<uint8_t> b;
    b.reserve(4096);
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    Put<uint32_t>(&b, version);
    Put<uint64_t>(&b, tensors_.size());
    Put<uint64_t>(&b, kvs_.size());
    for (const auto& kv : kvs_) {
      PutString(&b, kv.key);
      Put<uint32_t>(&b, kv.type);
      b.insert(b.end(), kv.payload.begin(), kv.payload.end());
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
      PutString(&b, t.name);
      Put<uint32_t>(&b, static_cast<uint32_t>(t.ne.size()));
      for (int64_t n : t.ne) Put<uint64_t>(&b, static_cast<uint64_t>(n));
      Put<uint32_t>(&b, t.type);
      Put<uint64_t>(&b, offset);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    for (const auto& t : tensors_) {
      b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
      b.insert(b.end(), t.data.begin(), t.data.end());
    }
    return b;
  }
  void Write(const std::string& path, uint32_t version = 3) const {
    WriteBytes(path, Serialize(version));
  }

 private:
  template <typename T>
  void AddPod(const std::string& k, uint32_t type, T v) {
    std::vector<uint8_t> p;
    Put<T>(&p, v);
    AddRaw(k, type, std::move(p));
  }
  struct Kv {
    std::string key;
    uint32_t type;
    std::vector<uint8_t> payload;
  };
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

// Builds a safetensors file: 8-byte little-endian header length, JSON header,
// then the tensors' bytes back to back.
class SafetensorsWriter {
 public:
  void AddTensor(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                 std::vector<uint8_t> data) {
    header_[name] = {{"dtype", dtype},
                     {"shape", shape},
                     {"data_offsets", {data_.size(), data_.size() + data.size()}}};
    data_.insert(data_.end(), data.begin(), data.end());
  }
  // Replaces a header field verbatim (for malformed-file tests).
  nlohmann::json& header() { return header_; }
  std::vector<uint8_t> Serialize() const {
    std::string h = header_.dump();
    h.resize((h.size() + 7) / 8 * 8, ' ');
    std::vector<uint8_t> b;
    Put<uint64_t>(&b, h.size());
    b.insert(b.end(), h.begin(), h.end());
    b.insert(b.end(), data_.begin(), data_.end());
    return b;
  }
  void Write(const std::string& path) const { WriteBytes(path, Serialize()); }

 private:
  nlohmann::json header_ = nlohmann::json::object();
  std::vector<uint8_t> data_;
};

// A two-layer Llama-shaped model small enough to write in a test: H=64,
// I=96, N=4 heads, G=2 KV groups, hd=16, V=40. Tensors in HF names/shapes.
struct TinyModel {
  static constexpr int kH = 64, kI = 96, kL = 2, kN = 4, kG = 2, kHd = 16, kV = 40;
  bool tied = false;
  bool bias = false;  // q/k/v biases (qwen2)
  std::map<std::string, std::vector<int64_t>> shapes;

  explicit TinyModel(bool tied_embeddings = false, bool with_bias = false)
      : tied(tied_embeddings), bias(with_bias) {
    shapes["model.embed_tokens.weight"] = {kV, kH};
    shapes["model.norm.weight"] = {kH};
    if (!tied) shapes["lm_head.weight"] = {kV, kH};
    for (int il = 0; il < kL; ++il) {
      const std::string p = "model.layers." + std::to_string(il) + ".";
      shapes[p + "input_layernorm.weight"] = {kH};
      shapes[p + "post_attention_layernorm.weight"] = {kH};
      shapes[p + "self_attn.q_proj.weight"] = {kN * kHd, kH};
      shapes[p + "self_attn.k_proj.weight"] = {kG * kHd, kH};
      shapes[p + "self_attn.v_proj.weight"] = {kG * kHd, kH};
      shapes[p + "self_attn.o_proj.weight"] = {kH, kN * kHd};
      shapes[p + "mlp.gate_proj.weight"] = {kI, kH};
      shapes[p + "mlp.up_proj.weight"] = {kI, kH};
      shapes[p + "mlp.down_proj.weight"] = {kH, kI};
      if (bias) {
        shapes[p + "self_attn.q_proj.bias"] = {kN * kHd};
        shapes[p + "self_attn.k_proj.bias"] = {kG * kHd};
        shapes[p + "self_attn.v_proj.bias"] = {kG * kHd};
      }
    }
  }

  // The HF-order values of a tensor: a different pattern per tensor and element.
  static std::vector<float> Values(const std::string& name, const std::vector<int64_t>& shape) {
    uint32_t h = 2166136261u;
    for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t x = (h + static_cast<uint32_t>(i) * 2654435761u) >> 7;
      v[i] = static_cast<float>(static_cast<int>(x % 15) - 7) * 0.25f;
    }
    return v;
  }
  std::vector<float> Values(const std::string& name) const { return Values(name, shapes.at(name)); }

  nlohmann::json HfConfig(const std::string& arch = "LlamaForCausalLM") const {
    return {{"architectures", {arch}},
            {"hidden_size", kH},
            {"intermediate_size", kI},
            {"num_hidden_layers", kL},
            {"num_attention_heads", kN},
            {"num_key_value_heads", kG},
            {"vocab_size", kV},
            {"rms_norm_eps", 1e-5},
            {"rope_theta", 10000.0},
            {"max_position_embeddings", 256},
            {"tie_word_embeddings", tied},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
  }
};

// The GGUF name llama.cpp's converter gives a Hugging Face tensor.
inline std::string HfToGgufName(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string pre = "model.layers.";
  const size_t dot = hf.find('.', pre.size());
  const std::string il = hf.substr(pre.size(), dot - pre.size());
  std::string rest = hf.substr(dot + 1);
  static const std::pair<const char*, const char*> kMap[] = {
      {"input_layernorm.", "attn_norm."}, {"post_attention_layernorm.", "ffn_norm."},
      {"self_attn.q_proj.", "attn_q."},   {"self_attn.k_proj.", "attn_k."},
      {"self_attn.v_proj.", "attn_v."},   {"self_attn.o_proj.", "attn_output."},
      {"mlp.gate_proj.", "ffn_gate."},    {"mlp.up_proj.", "ffn_up."},
      {"mlp.down_proj.", "ffn_down."}};
  for (const auto& [from, to] : kMap) {
    if (rest.starts_with(from)) return "blk." + il + "." + to + rest.substr(std::strlen(from));
  }
  return hf;
}

// Reorders the rows of a q/k projection (or the elements of its bias) the way
// the converter does for llama: HF row h*hd + j*(hd/2) + i goes to row
// h*hd + 2*i + j, for i in [0, hd/2), j in {0, 1}.
inline std::vector<float> PermuteQkRows(const std::vector<float>& v, int64_t n_heads,
                                        int64_t head_dim, int64_t cols) {
  std::vector<float> out(v.size());
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < head_dim / 2; ++i) {
        const int64_t from = h * head_dim + j * (head_dim / 2) + i, to = h * head_dim + 2 * i + j;
        std::copy_n(v.begin() + from * cols, cols, out.begin() + to * cols);
      }
  return out;
}

// Writes `m` as a GGUF file for `arch` ("llama" or "qwen2"): matrices in
// `type`, vectors in F32, q/k rows permuted for llama as the converter does.
inline GgufWriter TinyGguf(const TinyModel& m, const std::string& arch, uint32_t type) {
  GgufWriter w;
  w.AddString("general.architecture", arch);
  w.AddU32(arch + ".embedding_length", TinyModel::kH);
  w.AddU32(arch + ".feed_forward_length", TinyModel::kI);
  w.AddU32(arch + ".block_count", TinyModel::kL);
  w.AddU32(arch + ".attention.head_count", TinyModel::kN);
  w.AddU32(arch + ".attention.head_count_kv", TinyModel::kG);
  w.AddF32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.AddF32(arch + ".rope.freq_base", 10000.0f);
  w.AddU32(arch + ".context_length", 256);
  std::vector<std::string> tokens;
  for (int i = 0; i < TinyModel::kV; ++i) {
    std::string t = "t";  // not "t" + ...: GCC 12 warns falsely (-Wrestrict) on that
    t += std::to_string(i);
    tokens.push_back(t);
  }
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddU32("tokenizer.ggml.bos_token_id", 1);
  w.AddU32("tokenizer.ggml.eos_token_id", 2);
  for (const auto& [name, shape] : m.shapes) {
    std::vector<float> v = m.Values(name);
    const bool is_q = name.find("q_proj") != std::string::npos;
    const bool is_k = name.find("k_proj") != std::string::npos;
    if (arch == "llama" && (is_q || is_k)) {
      v = PermuteQkRows(v, is_q ? TinyModel::kN : TinyModel::kG, TinyModel::kHd,
                        shape.size() == 2 ? shape[1] : 1);
    }
    const uint32_t t = shape.size() == 2 ? type : kGgmlF32;
    w.AddTensor(HfToGgufName(name), t, std::vector<int64_t>(shape.rbegin(), shape.rend()),
                EncodeExact(t, v));
  }
  return w;
}

inline std::string DTypeNameForSafetensors(uint32_t ggml_type) {
  return ggml_type == kGgmlF16 ? "F16" : ggml_type == kGgmlBF16 ? "BF16" : "F32";
}

// Writes `m` as a Hugging Face directory: config.json and model.safetensors,
// every tensor in `type` (F32, F16 or BF16).
inline void WriteTinyHfDir(const TinyModel& m, const std::string& dir, uint32_t type = kGgmlF32,
                           const std::string& arch = "LlamaForCausalLM") {
  std::ofstream(dir + "/config.json") << m.HfConfig(arch).dump(2);
  SafetensorsWriter w;
  for (const auto& [name, shape] : m.shapes) {
    w.AddTensor(name, DTypeNameForSafetensors(type), shape, EncodeExact(type, m.Values(name)));
  }
  w.Write(dir + "/model.safetensors");
}

}  // namespace gs::testing
