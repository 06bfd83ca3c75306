// A read-only view of the named weight tensors of a checkpoint (safetensors
// directory or GGUF file). Tensors are exposed under Hugging Face names and
// shapes ([out, in] for matrices), whatever the file format; a GGUF source
// undoes the converter's RoPE row permutation of q/k so that both formats
// present identical tensors. Files are memory-mapped: reading a slice touches
// only the bytes of that slice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/range.h"
#include "core/model_config.h"
#include "kernels/status.h"

namespace gs {

struct TensorInfo {
  std::string name;            // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // outermost first: [rows, cols] for matrices, [n] for vectors
  int64_t rows() const { return shape.size() == 2 ? shape[0] : 1; }
  int64_t cols() const { return shape.empty() ? 0 : shape.back(); }
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;

  // Opens a model at `path`: a directory with config.json + safetensors, or a
  // .gguf file. Errors name the file and the offending key or tensor.
  static StatusOr<std::unique_ptr<WeightSource>> Open(const std::string& path);

  virtual const ModelConfig& config() const = 0;
  // Metadata needed by the tokenizer and chat template: for GGUF the raw
  // tokenizer.* keys; for HF dirs the paths of tokenizer.json etc. The
  // tokenizer reads it through these accessors.
  virtual std::string path() const = 0;

  // nullptr if absent.
  virtual const TensorInfo* Find(const std::string& name) const = 0;
  virtual std::vector<std::string> TensorNames() const = 0;

  // Copies rows [rows.begin, rows.end) x cols [cols.begin, cols.end) of a
  // tensor into `dst` (row-major, rows.size() x cols.size() floats),
  // dequantizing. For a 1-D tensor pass rows = {0,1}. For quantized tensors
  // cols must be aligned to BlockElems(dtype). Only the bytes of the slice are
  // read. Errors: unknown tensor, range out of bounds, misaligned range.
  virtual Status ReadF32(const std::string& name, Range rows, Range cols, float* dst) const = 0;

  // Raw bytes of a row slice in the stored dtype (for kernels that keep weights
  // quantized): rows [rows.begin, rows.end) x cols [cols.begin, cols.end),
  // cols aligned to the block. Appends to `out`.
  virtual Status ReadRaw(const std::string& name, Range rows, Range cols,
                         std::vector<uint8_t>* out) const = 0;
};

// Checks that every tensor a Llama-family model needs is present with the
// shape `config()` implies (embedding, per-layer attention/MLP/norms, final
// norm, lm_head unless tied, q/k/v biases when attn_bias). The error names
// the file, the tensor, and the expected and found shapes.
Status CheckModelTensors(const WeightSource& src);

}  // namespace gs
