#include "core/llama_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "core/rank_tensors.h"
#include "core/rope_freqs.h"
#include "kernels/check.h"
#include "kernels/cpu/cpu_ops.h"

namespace gs {
namespace {

using kernels::DeviceMemory;
using kernels::DeviceOps;
using kernels::Weight;

// Reads one listed matrix in the dtype the CPU keeps it in and puts it on
// the device.
StatusOr<std::unique_ptr<Weight>> ReadWeight(const WeightSource& src, const RankTensor& t,
                                             DeviceOps& ops) {
  const TensorInfo* info = src.Find(t.name);
  if (info == nullptr) return Status::NotFound("tensor " + t.name + " missing in " + src.path());
  const DType d = t.Resident(info->dtype);
  std::vector<uint8_t> bytes;
  if (d == DType::kF32) {
    bytes.resize(sizeof(float) * t.rows.size() * t.cols.size());
    GS_RETURN_IF_ERROR(
        src.ReadF32(t.name, t.rows, t.cols, reinterpret_cast<float*>(bytes.data())));
  } else {
    CHECK(d == info->dtype) << "resident dtype must be fp32 or the stored dtype";
    GS_RETURN_IF_ERROR(src.ReadRaw(t.name, t.rows, t.cols, &bytes));
  }
  return ops.UploadWeight(d, t.rows.size(), t.cols.size(), bytes);
}

// Elements [r.begin, r.end) of a 1-D tensor as fp32.
StatusOr<std::vector<float>> ReadVector(const WeightSource& src, const std::string& name,
                                        Range r) {
  if (src.Find(name) == nullptr) {
    return Status::NotFound("tensor " + name + " missing in " + src.path());
  }
  std::vector<float> v(r.size());
  GS_RETURN_IF_ERROR(src.ReadF32(name, {0, 1}, r, v.data()));
  return v;
}

}  // namespace

namespace {

// Bytes of each scratch buffer (in the order of LlamaModel::ScratchBuffers:
// x_, sum_, h_, q_, k_, v_, attn_, gate_, up_, act_, hl_, logits_), for a step of
// n tokens and n_logits logit rows. At least 64 bytes each, so an empty step
// still has addresses.
constexpr int kScratchBuffers = 12;
std::array<size_t, kScratchBuffers> ScratchSizes(const ModelConfig& c, const RankShard& shard,
                                                 DType in, int64_t n, int64_t n_logits) {
  const int64_t H = c.hidden_size, hd = c.head_dim;
  const int64_t nq = shard.n_local_heads() * hd, nkv = shard.n_local_groups() * hd;
  const int64_t I = shard.mlp_cols.size(), V = shard.vocab_rows.size();
  const int64_t nl = std::max<int64_t>(n_logits, 1);
  auto f32 = [](int64_t elems) { return std::max<size_t>(elems * sizeof(float), 64); };
  auto act = [&](int64_t elems) { return std::max<size_t>(RowBytes(in, elems), 64); };
  return {f32(n * H), f32(n * H),  act(n * H),  f32(n * nq), f32(n * nkv), f32(n * nkv),
          act(n * nq), f32(n * I), f32(n * I),  act(n * I),  act(nl * H),  f32(nl * V)};
}

}  // namespace

void* LlamaModel::Scratch::Get(DeviceOps& ops, size_t bytes) {
  if (!mem || mem->bytes() < bytes) mem = ops.Allocate(bytes);
  return mem->data();
}

int64_t LlamaModel::ScratchBytes(const ModelConfig& c, const RankShard& shard, DType matmul_input,
                                 int64_t n_tokens, int64_t n_logits) {
  int64_t total = 0;
  for (size_t b : ScratchSizes(c, shard, matmul_input, n_tokens, n_logits)) total += b;
  return total;
}

template <typename Model>
auto LlamaModel::ScratchBuffers(Model& m) {
  return std::array{&m.x_,    &m.sum_,  &m.h_,  &m.q_,   &m.k_,  &m.v_,
                    &m.attn_, &m.gate_, &m.up_, &m.act_, &m.hl_, &m.logits_};
}

int64_t LlamaModel::scratch_bytes() const {
  int64_t total = 0;
  for (const Scratch* s : ScratchBuffers(*this)) {
    if (s->mem) total += static_cast<int64_t>(s->mem->bytes());
  }
  return total;
}

LlamaModel::LlamaModel(const ModelConfig& config, const ShardPlan& plan, Communicator& comm,
                       std::unique_ptr<DeviceOps> ops)
    : config_(config), shard_(plan.rank(comm.rank())), comm_(comm), ops_(std::move(ops)) {
  CHECK_EQ(plan.tp_size(), comm.size());
  if (!ops_) ops_ = std::make_unique<kernels::CpuOps>();
}

std::unique_ptr<DeviceMemory> LlamaModel::ToDevice(const std::vector<float>& v) {
  auto m = ops_->Allocate(v.size() * sizeof(float));
  ops_->CopyToDevice(m->data(), v.data(), v.size() * sizeof(float));
  return m;
}

// Walks RankTensors once: every weight of this rank, from `read_matrix`
// (RankTensor → StatusOr<unique_ptr<Weight>>) and `read_vector` (RankTensor →
// StatusOr<vector<float>>).
template <typename ReadMatrix, typename ReadVector>
Status LlamaModel::Build(const ShardPlan& plan, ReadMatrix read_matrix, ReadVector read_vector) {
  // Before any weight: a device whose attention kernels do not take this
  // shape (CUDA's take head_dim 64 or 128) refuses the model with its reason.
  GS_RETURN_IF_ERROR(ops_->SupportsAttention(config_.head_dim, config_.group_size()));
  struct Pending {
    std::unique_ptr<Weight> q, k, v, o, gate, up, down;
    std::unique_ptr<DeviceMemory> attn_norm, mlp_norm, q_bias, k_bias, v_bias;
  };
  std::vector<Pending> pending(config_.n_layers);
  std::shared_ptr<const Weight> embed, head;
  for (const RankTensor& t : RankTensors(config_, shard_)) {
    Pending* p = t.layer >= 0 ? &pending[t.layer] : nullptr;
    if (t.role == TensorRole::kLmHead && config_.tie_word_embeddings) {
      // The embedding's rows, in the same dtype: kept once.
      CHECK(embed != nullptr) << "the embedding is listed before the tied LM head";
      head = embed;
      continue;
    }
    if (t.matrix) {
      GS_ASSIGN_OR_RETURN(std::unique_ptr<Weight> w, read_matrix(t));
      switch (t.role) {
        case TensorRole::kQ: p->q = std::move(w); break;
        case TensorRole::kK: p->k = std::move(w); break;
        case TensorRole::kV: p->v = std::move(w); break;
        case TensorRole::kO: p->o = std::move(w); break;
        case TensorRole::kGate: p->gate = std::move(w); break;
        case TensorRole::kUp: p->up = std::move(w); break;
        case TensorRole::kDown: p->down = std::move(w); break;
        case TensorRole::kEmbedding: embed = std::move(w); break;
        case TensorRole::kLmHead: head = std::move(w); break;
        default: CHECK(false) << t.name << " listed as a matrix";
      }
      continue;
    }
    GS_ASSIGN_OR_RETURN(std::vector<float> host, read_vector(t));
    std::unique_ptr<DeviceMemory> v = ToDevice(host);
    switch (t.role) {
      case TensorRole::kAttnNorm: p->attn_norm = std::move(v); break;
      case TensorRole::kMlpNorm: p->mlp_norm = std::move(v); break;
      case TensorRole::kQBias: p->q_bias = std::move(v); break;
      case TensorRole::kKBias: p->k_bias = std::move(v); break;
      case TensorRole::kVBias: p->v_bias = std::move(v); break;
      case TensorRole::kFinalNorm: final_norm_ = std::move(v); break;
      default: CHECK(false) << t.name << " listed as a vector";
    }
  }
  const int64_t vec_bytes = config_.hidden_size * static_cast<int64_t>(sizeof(float));
  for (Pending& p : pending) {
    Layer L;
    L.attn_norm = std::move(p.attn_norm);
    L.mlp_norm = std::move(p.mlp_norm);
    L.q = ColumnParallelLinear(std::move(p.q), std::move(p.q_bias));
    L.k = ColumnParallelLinear(std::move(p.k), std::move(p.k_bias));
    L.v = ColumnParallelLinear(std::move(p.v), std::move(p.v_bias));
    L.gate = ColumnParallelLinear(std::move(p.gate), nullptr);
    L.up = ColumnParallelLinear(std::move(p.up), nullptr);
    L.o = RowParallelLinear(std::move(p.o), comm_);
    L.down = RowParallelLinear(std::move(p.down), comm_);
    bytes_.layers += 2 * vec_bytes + L.q.weight_bytes() + L.k.weight_bytes() +
                     L.v.weight_bytes() + L.o.weight_bytes() + L.gate.weight_bytes() +
                     L.up.weight_bytes() + L.down.weight_bytes();
    layers_.push_back(std::move(L));
  }
  std::vector<Range> vocab_of_rank;
  for (const RankShard& r : plan.ranks()) vocab_of_rank.push_back(r.vocab_rows);
  embed_ = VocabParallelEmbedding(embed, shard_.vocab_rows, comm_);
  lm_head_ = ParallelLmHead(head, vocab_of_rank, comm_);
  bytes_.embedding = config_.tie_word_embeddings ? 0 : embed_.weight_bytes();
  bytes_.lm_head = lm_head_.weight_bytes();
  bytes_.final_norm = vec_bytes;
  return Status::Ok();
}

StatusOr<std::unique_ptr<LlamaModel>> LlamaModel::Load(const WeightSource& src,
                                                       const ShardPlan& plan, Communicator& comm,
                                                       std::unique_ptr<DeviceOps> ops) {
  std::unique_ptr<LlamaModel> m(new LlamaModel(src.config(), plan, comm, std::move(ops)));
  DeviceOps& o = *m->ops_;
  GS_RETURN_IF_ERROR(m->Build(
      plan, [&](const RankTensor& t) { return ReadWeight(src, t, o); },
      [&](const RankTensor& t) { return ReadVector(src, t.name, t.cols); }));
  std::vector<float> freq_factors;
  if (const TensorInfo* rf = src.Find("rope_freqs.weight")) {
    GS_ASSIGN_OR_RETURN(freq_factors, ReadVector(src, "rope_freqs.weight", {0, rf->cols()}));
  }
  m->inv_freq_ = m->ToDevice(RopeInvFreq(m->config_, freq_factors));
  return m;
}

std::unique_ptr<LlamaModel> LlamaModel::Random(const ModelConfig& config, const ShardPlan& plan,
                                               Communicator& comm,
                                               std::unique_ptr<DeviceOps> ops, uint64_t seed) {
  std::unique_ptr<LlamaModel> m(new LlamaModel(config, plan, comm, std::move(ops)));
  DeviceOps& o = *m->ops_;
  auto random_matrix = [&](const RankTensor& t) -> StatusOr<std::unique_ptr<Weight>> {
    // Scaled like a trained model's weights, so activations stay finite.
    const float scale = 1.0f / std::sqrt(static_cast<float>(t.cols.size()));
    return o.RandomWeight(t.rows.size(), t.cols.size(), scale, seed++);
  };
  auto constant_vector = [&](const RankTensor& t) -> StatusOr<std::vector<float>> {
    const bool norm = t.role == TensorRole::kAttnNorm || t.role == TensorRole::kMlpNorm ||
                      t.role == TensorRole::kFinalNorm;
    return std::vector<float>(t.cols.size(), norm ? 1.0f : 0.0f);
  };
  const Status built = m->Build(plan, random_matrix, constant_vector);
  CHECK(built.ok()) << built.message();
  m->inv_freq_ = m->ToDevice(RopeInvFreq(m->config_));
  return m;
}

Status LlamaModel::SetKvDType(DType t) {
  if (t == DType::kQ8_0 && config_.head_dim % BlockElems(t) != 0) {
    return Status::InvalidArgument(
        "a q8_0 KV cache needs head_dim a multiple of 32; this model's is " +
        std::to_string(config_.head_dim));
  }
  return ops_->SetKvDType(t);
}

std::unique_ptr<KvCache> LlamaModel::MakeKvCache(int n_blocks, int block_size) const {
  return std::make_unique<KvCache>(*ops_, config_.n_layers, n_blocks, block_size,
                                   shard_.n_local_groups(), config_.head_dim);
}

void LlamaModel::MeasureCompute() {
  if (timed_) return;
  timed_ = std::make_unique<kernels::TimedOps>(*ops_);
  // A product is told apart by its first weight (ForwardShared passes q
  // first, then k and v; gate, then up).
  for (const Layer& L : layers_) {
    timed_->LabelProducts(L.q.weight(), "matmul_qkv");
    timed_->LabelProducts(L.o.weight(), "matmul_o");
    timed_->LabelProducts(L.gate.weight(), "matmul_gate_up");
    timed_->LabelProducts(L.down.weight(), "matmul_down");
  }
  timed_->LabelProducts(lm_head_.weight(), "matmul_lm_head");
}

void LlamaModel::EnsureScratch(int64_t n, int64_t n_logits) {
  DeviceOps& o = step_ops();
  CHECK_EQ(lm_head_.local_rows(), shard_.vocab_rows.size());
  const auto sz = ScratchSizes(config_, shard_, o.matmul_input_dtype(), n, n_logits);
  const auto buffers = ScratchBuffers(*this);
  static_assert(std::tuple_size_v<decltype(buffers)> == kScratchBuffers);
  for (int b = 0; b < kScratchBuffers; ++b) buffers[b]->Get(o, sz[b]);
}

void LlamaModel::Upload(const ModelInput& in) {
  n_tokens_ = in.n_tokens();
  logit_rows_ = in.logit_rows;
  const int64_t nl = static_cast<int64_t>(logit_rows_.size());
  logits_are_all_rows_ = nl == n_tokens_;
  for (int64_t j = 0; logits_are_all_rows_ && j < nl; ++j) {
    logits_are_all_rows_ = logit_rows_[j] == j;
  }
  kernels::StepArrays step;
  step.tokens = in.tokens;
  step.positions = in.positions;
  step.slots = in.slots;
  step.token_seq = in.token_seq;
  step.block_tables = in.block_tables;
  step.max_blocks = in.max_blocks;
  step_ops().SetStep(step);
  EnsureScratch(n_tokens_, nl);
}

void LlamaModel::Run(KvCache& cache, int max_context) {
  const ModelConfig& c = config_;
  DeviceOps& o = step_ops();
  const int64_t n = n_tokens_, H = c.hidden_size;
  const int nh = shard_.n_local_heads(), ng = shard_.n_local_groups();
  const int64_t I = shard_.mlp_cols.size();
  const float eps = c.rms_norm_eps;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const float* inv_freq = inv_freq_->as<float>();
  float* x = x_.mem->as<float>();      // [n, H] the residual stream
  float* sum = sum_.mem->as<float>();  // [n, H] a row-parallel product before its all-reduce
  void* h = h_.mem->data();            // [n, H] normed, fed to products
  float *q = q_.mem->as<float>(), *k = k_.mem->as<float>(), *v = v_.mem->as<float>();
  void* attn = attn_.mem->data();  // [n, nh, hd]
  float *gate = gate_.mem->as<float>(), *up = up_.mem->as<float>();
  void* act = act_.mem->data();  // [n, I_r]
  o.ReserveContext(max_context);

  embed_.Forward(o, n, x);  // all-reduce
  for (int il = 0; il < c.n_layers; ++il) {
    Layer& L = layers_[il];
    // Attention block: column-parallel QKV on local heads/groups, row-parallel O.
    o.RmsNorm(x, L.attn_norm->as<float>(), n, H, eps, h);
    // q [n, nh, hd], k and v [n, ng, hd]
    ColumnParallelLinear::ForwardShared(o, h, n, {{&L.q, q}, {&L.k, k}, {&L.v, v}});
    o.Rope(q, nh, c.head_dim, inv_freq);
    o.Rope(k, ng, c.head_dim, inv_freq);
    if (observer_) observer_(il, q, k, n);
    const kernels::KvLayer kv = cache.layer(il);
    o.KvAppend(k, v, kv);
    o.Attention(q, kv, nh, scale, attn);
    L.o.Forward(o, attn, n, x, sum);  // all-reduce #1
    // MLP block: column-parallel gate/up on this rank's I-range, row-parallel down.
    o.RmsNorm(x, L.mlp_norm->as<float>(), n, H, eps, h);
    ColumnParallelLinear::ForwardShared(o, h, n, {{&L.gate, gate}, {&L.up, up}});
    o.SiluMul(gate, up, n * I, act);
    L.down.Forward(o, act, n, x, sum);  // all-reduce #2
  }
  const int64_t nl = static_cast<int64_t>(logit_rows_.size());
  if (nl == 0) return;
  char* hl = static_cast<char*>(hl_.mem->data());
  const int64_t row_bytes = RowBytes(o.matmul_input_dtype(), H);
  if (logits_are_all_rows_) {
    o.RmsNorm(x, final_norm_->as<float>(), n, H, eps, hl);
  } else {
    for (int64_t j = 0; j < nl; ++j) {
      o.RmsNorm(x + static_cast<int64_t>(logit_rows_[j]) * H, final_norm_->as<float>(), 1, H, eps,
                hl + j * row_bytes);
    }
  }
  lm_head_.Forward(o, hl, nl, logits_.mem->as<float>());
}

void LlamaModel::FetchLogits(float* logits) {
  const int64_t nl = static_cast<int64_t>(logit_rows_.size());
  if (nl == 0) return;
  lm_head_.Gather(step_ops(), logits_.mem->as<float>(), nl, logits);
}

void LlamaModel::Forward(const ModelInput& in, KvCache& cache, float* logits) {
  Upload(in);
  const int max_context =
      in.positions.empty() ? 1 : *std::max_element(in.positions.begin(), in.positions.end()) + 1;
  Run(cache, max_context);
  FetchLogits(logits);
}

}  // namespace gs
