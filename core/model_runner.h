// What the engine drives on each rank: one tensor-parallel shard of the model
// together with the KV cache it was given, on some device. The engine and
// the workers only call Forward; the step itself (ModelInput) travels over
// the host communicator (StepChannel), whatever the device.
#pragma once

#include <cstdint>
#include <string>

#include "core/model_config.h"
#include "core/model_input.h"
#include "parallel/shard_plan.h"

namespace gs {

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  // Makes the (zeroed) KV cache: n_blocks blocks of block_size tokens for
  // this rank's groups. Once, before the first Forward.
  virtual void AllocateKvCache(int n_blocks, int block_size) = 0;

  // Collective over the runner's own communicator: every rank calls it with
  // the same `in`. Appends K/V of `in` to the cache and, on rank 0, writes
  // logits [in.logit_rows.size(), vocab] to host memory `logits`; other
  // ranks may pass nullptr.
  virtual void Forward(const ModelInput& in, float* logits) = 0;

  virtual const ModelConfig& config() const = 0;
  virtual const RankShard& shard() const = 0;
  // The KV cache this runner holds (0 blocks before AllocateKvCache): its
  // blocks, tokens per block, and the dtype K and V are stored in (sizes
  // follow from RowBytes(kv_dtype(), head_dim)).
  virtual int kv_blocks() const = 0;
  virtual int kv_block_size() const = 0;
  virtual DType kv_dtype() const = 0;
  // Bytes of weights resident on this rank's device.
  virtual int64_t weight_bytes() const = 0;
  // "cpu", or "cuda:<device index>".
  virtual std::string device_name() const = 0;

  // K+V bytes one token occupies on this rank.
  int64_t kv_bytes_per_token() const {
    return KvBytesPerToken(config(), shard().n_local_groups(), kv_dtype());
  }
};

}  // namespace gs
