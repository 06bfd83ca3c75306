// The CUDA twins of the kernels/*.h operations. Same arguments as the CPU
// versions, except that every pointer is a device pointer (unless marked
// "host"), each call takes the stream it is enqueued on, and several ops can
// write their output in BF16 so it feeds a BF16 matrix product directly.
// Calls are asynchronous; results are ready once the stream is.
//
// Dimension names: n_tokens (tokens in the step), hidden, n_heads / n_groups
// (local query heads / KV groups), head_dim, vocab (rows of a table).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kernels/kv_layer.h"
#include "kernels/status.h"

namespace gs::kernels::cuda {

using bf16 = __nv_bfloat16;

// --- elementwise / conversion -------------------------------------------------
// out [n] = bf16(in [n]).
void ConvertF32ToBF16(const float* in, int64_t n, bf16* out, cudaStream_t s);
void ConvertBF16ToF32(const bf16* in, int64_t n, float* out, cudaStream_t s);
// x [n] += y [n] (the residual add).
void AddInPlace(float* x, const float* y, int64_t n, cudaStream_t s);
// y [n_rows, dim] += bias [dim] on every row (Qwen2's q/k/v biases).
void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim, cudaStream_t s);
// Fills out [n] with uniform values in [-scale, scale) from a counter hash of
// (seed, index): random weights generated on the device.
void FillUniform(bf16* out, int64_t n, float scale, uint64_t seed, cudaStream_t s);
void FillUniform(float* out, int64_t n, float scale, uint64_t seed, cudaStream_t s);

// --- embedding -----------------------------------------------------------------
// table [n_rows, hidden] holds vocabulary rows [row_begin, row_begin + n_rows);
// out [n_tokens, hidden]: the token's row, or zeros when this rank does not
// own it (a vocabulary-parallel all-reduce completes the rows).
void Embedding(const bf16* table, int64_t row_begin, int64_t n_rows, int64_t hidden,
               const int32_t* tokens, int64_t n_tokens, float* out, cudaStream_t s);

// --- RMSNorm (kernels/rms_norm.h) ------------------------------------------------
// x [n_tokens, dim], weight [dim] → y [n_tokens, dim]; y may alias x (fp32 only).
void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* y, cudaStream_t s);
void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, bf16* y,
             cudaStream_t s);

// --- RoPE (kernels/rope.h) -------------------------------------------------------
// x [n_tokens, n_heads, head_dim] rotated in place (rotate_half pairing);
// positions [n_tokens]; inv_freq [head_dim/2] (the model computes it from its config).
void RopeApply(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
               const float* inv_freq, cudaStream_t s);

// --- SwiGLU (kernels/activation.h) -----------------------------------------------
// out [n] = silu(gate) * up; fp32 out may alias gate.
void SiluMul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t s);
void SiluMul(const float* gate, const float* up, int64_t n, bf16* out, cudaStream_t s);

// --- paged KV cache and attention (kernels/attention.h) --------------------------
// The tokens of one step (device arrays) plus host-side bounds for sizing grids.
struct AttentionBatchDevice {
  int64_t n_tokens = 0;
  const int32_t* positions = nullptr;     // [n_tokens]
  const int32_t* token_seq = nullptr;     // [n_tokens]
  const int32_t* block_tables = nullptr;  // [n_seqs, max_blocks]
  int32_t max_blocks = 0;
  int32_t max_context = 0;  // host: >= positions[t] + 1 for every t
};

// The cache layer `kv` (kernels/kv_layer.h) holds fp32 or BF16 elements.
// k, v [n_tokens, n_groups, head_dim] fp32 → the cache at slots[t].
void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayer& kv, cudaStream_t s);

// Attention of every token over its sequence's cache, one token at a time
// (flash-decoding): the context is cut into chunks processed by separate
// blocks, each loading a chunk of a group's K/V once for all heads of the
// group, then the partial softmaxes are merged. Right for any batch; meant
// for decode. q [n_tokens, n_heads, head_dim] (local head j reads local group
// j / (n_heads / n_groups)) → out [n_tokens, n_heads, head_dim].
// `workspace` holds DecodeAttentionWorkspaceBytes(...) bytes.
// head_dim must be 64 or 128; n_heads / n_groups at most kMaxHeadsPerGroup.
inline constexpr int kMaxHeadsPerGroup = 32;
// Whether the attention kernels (decode and prefill) take this shape: Ok, or
// InvalidArgument naming what they take. Host code; needs no device.
Status CudaAttentionShape(int head_dim, int heads_per_group);
int64_t DecodeAttentionWorkspaceBytes(int64_t n_tokens, int n_heads, int n_groups, int head_dim,
                                      int max_context);
void DecodeAttention(const float* q, const KvLayer& kv, const AttentionBatchDevice& batch,
                     int n_heads, float scale, void* workspace, float* out, cudaStream_t s);
void DecodeAttention(const float* q, const KvLayer& kv, const AttentionBatchDevice& batch,
                     int n_heads, float scale, void* workspace, bf16* out, cudaStream_t s);

// Tiled causal attention for prefill: each block takes a tile of consecutive
// tokens of one sequence for one head, streams the sequence's K/V in tiles
// through shared memory and keeps an online softmax per row.
// tiles [n_tiles, 2] = {first token, token count}, from MakeAttentionTiles.
void PrefillAttention(const float* q, const KvLayer& kv,
                      const AttentionBatchDevice& batch, const int32_t* tiles, int n_tiles,
                      int n_heads, float scale, float* out, cudaStream_t s);
void PrefillAttention(const float* q, const KvLayer& kv,
                      const AttentionBatchDevice& batch, const int32_t* tiles, int n_tiles,
                      int n_heads, float scale, bf16* out, cudaStream_t s);
// Host: cuts the tokens into runs of at most `tile` consecutive tokens of the
// same sequence. token_seq [n_tokens] (host) → {first, count} pairs, flattened.
inline constexpr int kPrefillTile = 16;
std::vector<int32_t> MakeAttentionTiles(const int32_t* token_seq, int64_t n_tokens,
                                        int tile = kPrefillTile);

// --- small-batch matrix product -----------------------------------------------------
// y [n_tokens, rows] = x [n_tokens, cols] · w [rows, cols]ᵀ + beta · y, BF16 in,
// fp32 accumulation and out: the decode path of Gemm (memory-bound, one pass
// over the weights). Only where GemvSupported (n_tokens <= kMaxGemvTokens,
// cols % 8 == 0, x and w 16-byte aligned).
inline constexpr int kMaxGemvTokens = 8;
bool GemvSupported(const bf16* x, int64_t n_tokens, const bf16* w, int64_t cols);
void Gemv(const bf16* x, int64_t n_tokens, const bf16* w, int64_t rows, int64_t cols, float* y,
          float beta, cudaStream_t s);

// --- logits helpers ---------------------------------------------------------------
// logits [n_rows, vocab] → out [n_rows]: index of the largest value (lowest
// index on ties).
void Argmax(const float* logits, int64_t n_rows, int64_t vocab, int32_t* out, cudaStream_t s);
// The k largest of each row, descending (ties: lower index first):
// values/indices [n_rows, k]. k <= kMaxTopK. `workspace` holds
// TopKWorkspaceBytes(...) bytes.
inline constexpr int kMaxTopK = 128;
int64_t TopKWorkspaceBytes(int64_t n_rows, int64_t vocab, int k);
void TopK(const float* logits, int64_t n_rows, int64_t vocab, int k, void* workspace, float* values,
          int32_t* indices, cudaStream_t s);

}  // namespace gs::kernels::cuda
