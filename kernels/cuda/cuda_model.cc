#include "kernels/cuda/cuda_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/rope.h"
#include "parallel/parallel_linear.h"

namespace gs::kernels::cuda {
namespace {

std::string LayerPrefix(int il) { return "model.layers." + std::to_string(il) + "."; }

void CopyToDevice(const std::vector<float>& host, DeviceBuffer& dst, cudaStream_t s) {
  dst.Resize(host.size() * sizeof(float));
  CUDA_CHECK(cudaMemcpyAsync(dst.get(), host.data(), host.size() * sizeof(float),
                             cudaMemcpyHostToDevice, s));
  // `host` may be freed by the caller right after: wait for the copy.
  CUDA_CHECK(cudaStreamSynchronize(s));
}

// Reads rows x cols of a checkpoint matrix as fp32 and converts it to BF16 in dst.
Status LoadBF16(const WeightSource& src, const std::string& name, Range rows, Range cols,
                const DeviceMatrix& dst, DeviceBuffer& staging, cudaStream_t s) {
  if (src.Find(name) == nullptr)
    return Status::NotFound("tensor " + name + " missing in " + src.path());
  std::vector<float> host(rows.size() * cols.size());
  GS_RETURN_IF_ERROR(src.ReadF32(name, rows, cols, host.data()));
  CopyToDevice(host, staging, s);
  ConvertF32ToBF16(staging.get<float>(), static_cast<int64_t>(host.size()),
                   const_cast<bf16*>(dst.data), s);
  return Status::Ok();
}

}  // namespace

CudaLlamaModel::CudaLlamaModel(const ShardPlan& plan, Communicator& comm, cudaStream_t stream)
    : config_(plan.config()),
      plan_(plan),
      shard_(plan.rank(comm.rank())),
      comm_(comm),
      stream_(stream),
      gemm_(stream) {
  CHECK_EQ(plan.tp_size(), comm.size());
}

void CudaLlamaModel::AllocateWeights() {
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size, hd = c.head_dim;
  const int64_t nq = shard_.n_local_heads() * hd, nkv = shard_.n_local_groups() * hd;
  const int64_t I = shard_.mlp_cols.size(), Vr = shard_.vocab_rows.size();
  auto matrix = [&](DeviceBuffer& buf, DeviceMatrix& m, int64_t rows, int64_t cols) {
    buf.Resize(rows * cols * sizeof(bf16));
    m = DeviceMatrix{buf.get<bf16>(), rows, cols};
    streamed_bytes_ += m.bytes();
  };
  layers_.resize(c.n_layers);
  for (Layer& L : layers_) {
    L.attn_norm.Resize(H * sizeof(float));
    L.mlp_norm.Resize(H * sizeof(float));
    streamed_bytes_ += 2 * H * static_cast<int64_t>(sizeof(float));
    if (c.attn_bias) {
      L.q_bias.Resize(nq * sizeof(float));
      L.k_bias.Resize(nkv * sizeof(float));
      L.v_bias.Resize(nkv * sizeof(float));
    }
    matrix(L.wq, L.q, nq, H);
    matrix(L.wk, L.k, nkv, H);
    matrix(L.wv, L.v, nkv, H);
    matrix(L.wo, L.o, H, nq);
    matrix(L.wgate, L.gate, I, H);
    matrix(L.wup, L.up, I, H);
    matrix(L.wdown, L.down, H, I);
  }
  embed_.Resize(Vr * H * sizeof(bf16));
  final_norm_.Resize(H * sizeof(float));
  matrix(lm_head_w_, lm_head_, Vr, H);
}

StatusOr<std::unique_ptr<CudaLlamaModel>> CudaLlamaModel::Load(const WeightSource& src,
                                                               const ShardPlan& plan,
                                                               Communicator& comm,
                                                               cudaStream_t stream) {
  std::unique_ptr<CudaLlamaModel> m(new CudaLlamaModel(plan, comm, stream));
  m->AllocateWeights();
  const ModelConfig& c = m->config_;
  const RankShard& s = m->shard_;
  const int64_t hd = c.head_dim, H = c.hidden_size;
  const Range q_rows{s.q_heads.begin * hd, s.q_heads.end * hd};
  const Range kv_rows{s.kv_groups.begin * hd, s.kv_groups.end * hd};
  const Range all_h{0, H};
  DeviceBuffer staging;
  auto vec = [&](const std::string& name, Range r, DeviceBuffer& dst) -> Status {
    GS_ASSIGN_OR_RETURN(std::vector<float> v, LoadVector(src, name, r));
    CopyToDevice(v, dst, stream);
    return Status::Ok();
  };
  for (int il = 0; il < c.n_layers; ++il) {
    const std::string p = LayerPrefix(il);
    Layer& L = m->layers_[il];
    GS_RETURN_IF_ERROR(vec(p + "input_layernorm.weight", all_h, L.attn_norm));
    GS_RETURN_IF_ERROR(vec(p + "post_attention_layernorm.weight", all_h, L.mlp_norm));
    if (c.attn_bias) {
      GS_RETURN_IF_ERROR(vec(p + "self_attn.q_proj.bias", q_rows, L.q_bias));
      GS_RETURN_IF_ERROR(vec(p + "self_attn.k_proj.bias", kv_rows, L.k_bias));
      GS_RETURN_IF_ERROR(vec(p + "self_attn.v_proj.bias", kv_rows, L.v_bias));
    }
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "self_attn.q_proj.weight", q_rows, all_h, L.q, staging, stream));
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "self_attn.k_proj.weight", kv_rows, all_h, L.k, staging, stream));
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "self_attn.v_proj.weight", kv_rows, all_h, L.v, staging, stream));
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "self_attn.o_proj.weight", all_h, q_rows, L.o, staging, stream));
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "mlp.gate_proj.weight", s.mlp_cols, all_h, L.gate, staging, stream));
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "mlp.up_proj.weight", s.mlp_cols, all_h, L.up, staging, stream));
    GS_RETURN_IF_ERROR(
        LoadBF16(src, p + "mlp.down_proj.weight", all_h, s.mlp_cols, L.down, staging, stream));
  }
  const DeviceMatrix embed{m->embed_.get<bf16>(), s.vocab_rows.size(), H};
  GS_RETURN_IF_ERROR(
      LoadBF16(src, "model.embed_tokens.weight", s.vocab_rows, all_h, embed, staging, stream));
  const std::string head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  GS_RETURN_IF_ERROR(LoadBF16(src, head, s.vocab_rows, all_h, m->lm_head_, staging, stream));
  GS_RETURN_IF_ERROR(vec("model.norm.weight", all_h, m->final_norm_));
  std::vector<float> freq_factors;
  if (const TensorInfo* rf = src.Find("rope_freqs.weight")) {
    GS_ASSIGN_OR_RETURN(freq_factors, LoadVector(src, "rope_freqs.weight", {0, rf->cols()}));
  }
  CopyToDevice(RopeInvFreq(c, freq_factors), m->inv_freq_, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return m;
}

std::unique_ptr<CudaLlamaModel> CudaLlamaModel::Random(const ShardPlan& plan, Communicator& comm,
                                                       cudaStream_t stream, uint64_t seed) {
  std::unique_ptr<CudaLlamaModel> m(new CudaLlamaModel(plan, comm, stream));
  m->AllocateWeights();
  const ModelConfig& c = m->config_;
  const std::vector<float> ones(c.hidden_size, 1.0f);
  auto fill = [&](const DeviceMatrix& w) {
    // Scaled like a trained model's weights, so activations stay finite.
    const float scale = 1.0f / std::sqrt(static_cast<float>(w.cols));
    FillUniform(const_cast<bf16*>(w.data), w.rows * w.cols, scale, seed++, stream);
  };
  for (Layer& L : m->layers_) {
    CopyToDevice(ones, L.attn_norm, stream);
    CopyToDevice(ones, L.mlp_norm, stream);
    if (c.attn_bias) {
      CUDA_CHECK(cudaMemsetAsync(L.q_bias.get(), 0, L.q_bias.bytes(), stream));
      CUDA_CHECK(cudaMemsetAsync(L.k_bias.get(), 0, L.k_bias.bytes(), stream));
      CUDA_CHECK(cudaMemsetAsync(L.v_bias.get(), 0, L.v_bias.bytes(), stream));
    }
    for (const DeviceMatrix* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) fill(*w);
  }
  fill(DeviceMatrix{m->embed_.get<bf16>(), m->shard_.vocab_rows.size(), c.hidden_size});
  fill(m->lm_head_);
  CopyToDevice(ones, m->final_norm_, stream);
  CopyToDevice(RopeInvFreq(c), m->inv_freq_, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return m;
}

int64_t CudaLlamaModel::kv_bytes_per_token() const {
  return 2LL * config_.n_layers * shard_.n_local_groups() * config_.head_dim *
         static_cast<int64_t>(sizeof(bf16));
}

void CudaLlamaModel::AllocateKvCache(int n_blocks, int block_size) {
  kv_blocks_ = n_blocks;
  kv_block_size_ = block_size;
  const size_t bytes = static_cast<size_t>(kv_bytes_per_token()) * n_blocks * block_size;
  kv_ = DeviceBuffer(bytes);
  CUDA_CHECK(cudaMemsetAsync(kv_.get(), 0, bytes, stream_));
}

KvLayerDeviceView CudaLlamaModel::kv_layer(int il) const {
  const int64_t per = static_cast<int64_t>(kv_blocks_) * kv_block_size_ * shard_.n_local_groups() *
                      config_.head_dim;  // K (or V) of one layer
  bf16* base = kv_.get<bf16>() + 2 * per * il;
  KvLayerDeviceView v;
  v.k = base;
  v.v = base + per;
  v.dtype = KvDType::kBF16;
  v.n_groups = shard_.n_local_groups();
  v.block_size = kv_block_size_;
  v.head_dim = config_.head_dim;
  return v;
}

void CudaLlamaModel::EnsureScratch(int64_t n, int64_t n_logits) {
  const int64_t H = config_.hidden_size, hd = config_.head_dim;
  const int64_t nq = shard_.n_local_heads() * hd, nkv = shard_.n_local_groups() * hd;
  const int64_t I = shard_.mlp_cols.size(), V = config_.vocab_size;
  x_.Resize(n * H * sizeof(float));
  h_.Resize(n * H * sizeof(float));
  hb_.Resize(n * H * sizeof(bf16));
  q_.Resize(n * nq * sizeof(float));
  k_.Resize(n * nkv * sizeof(float));
  v_.Resize(n * nkv * sizeof(float));
  attn_.Resize(n * nq * sizeof(bf16));
  gate_.Resize(n * I * sizeof(float));
  up_.Resize(n * I * sizeof(float));
  mb_.Resize(n * I * sizeof(bf16));
  hl_.Resize(std::max<int64_t>(n_logits, 1) * H * sizeof(bf16));
  logits_.Resize(std::max<int64_t>(n_logits, 1) * shard_.vocab_rows.size() * sizeof(float));
  if (comm_.size() > 1 && comm_.rank() == 0) {
    gathered_.Resize(std::max<int64_t>(n_logits, 1) * V * sizeof(float));
  }
}

void CudaLlamaModel::Upload(const ModelInput& in) {
  CHECK(kv_blocks_ > 0) << "AllocateKvCache before Forward";
  n_tokens_ = in.n_tokens();
  n_logits_ = static_cast<int64_t>(in.logit_rows.size());
  max_blocks_ = in.max_blocks;
  const int64_t n_seqs = in.n_seqs();
  decode_only_ = n_tokens_ == n_seqs;
  host_rows_ = in.logit_rows;
  logits_are_all_rows_ = n_logits_ == n_tokens_;
  for (int64_t j = 0; logits_are_all_rows_ && j < n_logits_; ++j) {
    logits_are_all_rows_ = in.logit_rows[j] == j;
  }
  const std::vector<int32_t> tiles =
      MakeAttentionTiles(in.token_seq.data(), n_tokens_, kPrefillTile);
  n_tiles_ = static_cast<int>(tiles.size() / 2);
  staging_.clear();
  auto append = [&](const std::vector<int32_t>& v) {
    const size_t off = staging_.size();
    staging_.insert(staging_.end(), v.begin(), v.end());
    return off;
  };
  const size_t o_tok = append(in.tokens), o_pos = append(in.positions), o_slot = append(in.slots),
               o_seq = append(in.token_seq), o_tab = append(in.block_tables),
               o_tile = append(tiles);
  step_.Resize(std::max<size_t>(staging_.size(), 1) * sizeof(int32_t));
  int32_t* base = step_.get<int32_t>();
  d_tokens_ = base + o_tok;
  d_positions_ = base + o_pos;
  d_slots_ = base + o_slot;
  d_token_seq_ = base + o_seq;
  d_tables_ = base + o_tab;
  d_tiles_ = base + o_tile;
  CUDA_CHECK(cudaMemcpyAsync(base, staging_.data(), staging_.size() * sizeof(int32_t),
                             cudaMemcpyHostToDevice, stream_));
  EnsureScratch(n_tokens_, n_logits_);
}

// y = x · wᵀ, all-reduced across ranks, added to the residual stream.
void CudaLlamaModel::LinearOut(const bf16* x, int64_t n, const DeviceMatrix& w, float* residual) {
  if (comm_.size() == 1) {
    gemm_.MatMul(x, n, w, residual, /*beta=*/1.0f);
    return;
  }
  float* h = h_.get<float>();
  gemm_.MatMul(x, n, w, h);
  comm_.AllReduceSum(h, static_cast<size_t>(n * w.rows));
  AddInPlace(residual, h, n * w.rows, stream_);
}

void CudaLlamaModel::Run(int max_context) {
  const ModelConfig& c = config_;
  const int64_t n = n_tokens_, H = c.hidden_size;
  const int nh = shard_.n_local_heads(), ng = shard_.n_local_groups();
  const int64_t I = shard_.mlp_cols.size();
  cudaStream_t s = stream_;
  float* x = x_.get<float>();
  bf16* hb = hb_.get<bf16>();
  float *q = q_.get<float>(), *k = k_.get<float>(), *v = v_.get<float>();
  bf16* attn = attn_.get<bf16>();
  const float eps = c.rms_norm_eps;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

  if (decode_only_) {
    // Grows only on the first call with a new bound, so a graph captured
    // after one eager Run never allocates.
    attn_ws_.Resize(DecodeAttentionWorkspaceBytes(n, nh, ng, c.head_dim, max_context));
  }
  Embedding(embed_.get<bf16>(), shard_.vocab_rows.begin, shard_.vocab_rows.size(), H, d_tokens_, n,
            x, s);
  comm_.AllReduceSum(x, static_cast<size_t>(n * H));
  AttentionBatchDevice batch;
  batch.n_tokens = n;
  batch.positions = d_positions_;
  batch.token_seq = d_token_seq_;
  batch.block_tables = d_tables_;
  batch.max_blocks = max_blocks_;
  batch.max_context = max_context;

  for (int il = 0; il < c.n_layers; ++il) {
    Layer& L = layers_[il];
    RmsNorm(x, L.attn_norm.get<float>(), n, H, eps, hb, s);
    gemm_.MatMul(hb, n, L.q, q);  // [n, nh, hd]
    gemm_.MatMul(hb, n, L.k, k);  // [n, ng, hd]
    gemm_.MatMul(hb, n, L.v, v);  // [n, ng, hd]
    if (c.attn_bias) {
      AddBias(q, L.q_bias.get<float>(), n, L.q.rows, s);
      AddBias(k, L.k_bias.get<float>(), n, L.k.rows, s);
      AddBias(v, L.v_bias.get<float>(), n, L.v.rows, s);
    }
    RopeApply(q, n, nh, c.head_dim, d_positions_, inv_freq_.get<float>(), s);
    RopeApply(k, n, ng, c.head_dim, d_positions_, inv_freq_.get<float>(), s);
    const KvLayerDeviceView kv = kv_layer(il);
    KvAppend(k, v, n, d_slots_, kv, s);
    if (decode_only_) {
      DecodeAttention(q, kv, batch, nh, scale, attn_ws_.get(), attn, s);
    } else {
      PrefillAttention(q, kv, batch, d_tiles_, n_tiles_, nh, scale, attn, s);
    }
    LinearOut(attn, n, L.o, x);  // all-reduce #1
    RmsNorm(x, L.mlp_norm.get<float>(), n, H, eps, hb, s);
    gemm_.MatMul(hb, n, L.gate, gate_.get<float>());
    gemm_.MatMul(hb, n, L.up, up_.get<float>());
    SiluMul(gate_.get<float>(), up_.get<float>(), n * I, mb_.get<bf16>(), s);
    LinearOut(mb_.get<bf16>(), n, L.down, x);  // all-reduce #2
  }
  if (n_logits_ == 0) return;
  bf16* hl = hl_.get<bf16>();
  if (logits_are_all_rows_) {
    RmsNorm(x, final_norm_.get<float>(), n, H, eps, hl, s);
  } else {
    for (int64_t j = 0; j < n_logits_; ++j) {
      RmsNorm(x + static_cast<int64_t>(host_rows_[j]) * H, final_norm_.get<float>(), 1, H, eps,
              hl + j * H, s);
    }
  }
  gemm_.MatMul(hl, n_logits_, lm_head_, logits_.get<float>());
}

void CudaLlamaModel::Forward(const ModelInput& in, float* logits) {
  Upload(in);
  const int max_context =
      in.positions.empty() ? 1 : *std::max_element(in.positions.begin(), in.positions.end()) + 1;
  Run(max_context);
  const int64_t nl = n_logits_;
  if (nl == 0) return;
  const int P = comm_.size();
  const int64_t V = config_.vocab_size;
  if (P == 1) {
    CUDA_CHECK(cudaMemcpyAsync(logits, logits_.get(), sizeof(float) * nl * V,
                               cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  std::vector<int> counts(P);
  for (int r = 0; r < P; ++r) counts[r] = static_cast<int>(nl * plan_.rank(r).vocab_rows.size());
  comm_.GatherV(logits_.get<float>(), counts, gathered_.get<float>(), 0);
  if (comm_.rank() != 0) return;
  host_gathered_.resize(nl * V);
  CUDA_CHECK(cudaMemcpyAsync(host_gathered_.data(), gathered_.get(), sizeof(float) * nl * V,
                             cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  // Rank-major [r][n][V_r] → token-major [n][V].
  int64_t off = 0;
  for (int r = 0; r < P; ++r) {
    const Range rows = plan_.rank(r).vocab_rows;
    for (int64_t t = 0; t < nl; ++t) {
      std::memcpy(logits + t * V + rows.begin, host_gathered_.data() + off + t * rows.size(),
                  sizeof(float) * rows.size());
    }
    off += nl * rows.size();
  }
}

}  // namespace gs::kernels::cuda
