// Causal attention over a paged KV cache, for grouped-query attention: local
// query head j reads local KV group head_group[j]. MHA (one head per group)
// and MQA (one group) are the same code. Each group's keys and values are read
// once for all the query heads that share them.
#pragma once

#include <cstdint>

#include "kernels/kv_layer.h"
#include "kernels/thread_pool.h"

namespace gs::kernels {

// The tokens of one step and where their sequences' blocks are.
struct AttentionBatch {
  int64_t n_tokens = 0;
  const int32_t* positions = nullptr;     // [n_tokens]: a token attends to positions 0..pos
  const int32_t* token_seq = nullptr;     // [n_tokens]: index of the token's sequence
  const int32_t* block_tables = nullptr;  // [n_seqs, max_blocks]
  int32_t max_blocks = 0;
};

// The CPU's cache holds f32, f16, bf16 or Q8_0 rows (kv.dtype; Q8_0 needs
// head_dim a multiple of 32).
// Writes k, v [n_tokens, n_groups, head_dim] fp32 into the cache at slots[t] =
// block * block_size + offset, converted to kv.dtype (kernels/cpu/kv_rows.h:
// round to nearest even for f16/bf16, GGUF's Q8_0 quantization).
void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayer& kv);

// q [n_tokens, n_heads, head_dim] → out [n_tokens, n_heads, head_dim].
// head_group [n_heads]: local group of each local head; heads of one group are
// contiguous. The token's own K/V must already be in the cache. A context of
// more than 512 positions is taken in pieces of equal size, each with its own
// softmax, merged at the end (the split depends on the context's length
// alone). The (token, piece, head) triples are split over `pool` (null: the
// calling thread alone), so the threads share a long decode by position;
// results are bitwise the same however they are split, and a token's are the
// same whatever else the step holds. The cache is read in its
// dtype, a few rows at a time widened to fp32 in L1: the result is bit for
// bit that of an fp32 cache holding the widened (DequantizeRow) values.
// Where the CPU has AVX-512 the kernels take 16 lanes at a time, each lane
// doing what a lane of the 8-lane (AVX2) kernels does, so the bits are the
// same; `allow_wide` false forces the 8-lane kernels (for tests that compare
// the two).
void PagedAttention(const float* q, const KvLayer& kv, const AttentionBatch& batch,
                    const int32_t* head_group, int n_heads, float scale, float* out,
                    ThreadPool* pool = nullptr, bool allow_wide = true);

// The most floats of partial sums (tokens x pieces x heads x head_dim) that
// PagedAttention holds at once: a step whose long contexts need more is taken
// a run of tokens at a time, which changes no bit. 2^22 by default. Returns
// the previous budget. Not thread-safe: for tests, which set it low.
int64_t SetAttentionPieceBudget(int64_t floats);

}  // namespace gs::kernels
