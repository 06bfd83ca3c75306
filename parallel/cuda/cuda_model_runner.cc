#include "parallel/cuda/cuda_model_runner.h"

#include <cuda_runtime.h>

#include <string>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_model.h"
#include "parallel/mpi_communicator.h"
#ifdef GS_HAVE_NCCL
#include "parallel/cuda/nccl_communicator.h"
#endif

namespace gs {
namespace {

using kernels::cuda::CudaLlamaModel;

class CudaModelRunner : public ModelRunner {
 public:
  // Takes the stream (destroyed here when `own_stream`) and the device
  // communicator; Load fills in the model.
  CudaModelRunner(int device, cudaStream_t stream, bool own_stream,
                  std::unique_ptr<Communicator> comm)
      : device_(device), stream_(stream), own_stream_(own_stream), comm_(std::move(comm)) {}
  ~CudaModelRunner() override {
    // The model's cuBLAS handle and buffers go before the stream they use.
    model_.reset();
    comm_.reset();
    if (own_stream_) cudaStreamDestroy(stream_);
  }
  CudaModelRunner(const CudaModelRunner&) = delete;
  CudaModelRunner& operator=(const CudaModelRunner&) = delete;

  Status Load(const WeightSource& src, const ShardPlan& plan) {
    GS_ASSIGN_OR_RETURN(model_, CudaLlamaModel::Load(src, plan, *comm_, stream_));
    return Status::Ok();
  }

  void AllocateKvCache(int n_blocks, int block_size) override {
    CHECK(kv_blocks_ == 0) << "AllocateKvCache called twice";
    model_->AllocateKvCache(n_blocks, block_size);
    kv_blocks_ = n_blocks;
    kv_block_size_ = block_size;
  }
  void Forward(const ModelInput& in, float* logits) override {
    CHECK(kv_blocks_ > 0) << "AllocateKvCache before Forward";
    model_->Forward(in, logits);
  }
  const ModelConfig& config() const override { return model_->config(); }
  const RankShard& shard() const override { return model_->shard(); }
  int kv_blocks() const override { return kv_blocks_; }
  int kv_block_size() const override { return kv_block_size_; }
  int kv_element_bytes() const override { return 2; }  // BF16
  int64_t weight_bytes() const override {
    // Everything a step streams, plus the embedding rows (BF16) it does not.
    const int64_t embed = model_->shard().vocab_rows.size() * model_->config().hidden_size * 2;
    return model_->streamed_weight_bytes() + embed;
  }
  std::string device_name() const override { return "cuda:" + std::to_string(device_); }

 private:
  int device_;
  cudaStream_t stream_;
  bool own_stream_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<CudaLlamaModel> model_;
  int kv_blocks_ = 0, kv_block_size_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<ModelRunner>> LoadCudaModelRunner(const WeightSource& src,
                                                           const ShardPlan& plan,
                                                           Communicator& host_comm) {
  CHECK_EQ(plan.tp_size(), host_comm.size());
  std::unique_ptr<CudaModelRunner> runner;
  if (host_comm.size() == 1) {
    // One rank: no collectives to make, so no NCCL.
    const int device = 0;
    CUDA_CHECK(cudaSetDevice(device));
    cudaStream_t stream = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    runner = std::make_unique<CudaModelRunner>(device, stream, /*own_stream=*/true,
                                               std::make_unique<LocalCommunicator>());
  } else {
#ifdef GS_HAVE_NCCL
    auto* mpi = dynamic_cast<MpiCommunicator*>(&host_comm);
    CHECK(mpi != nullptr) << "--device cuda across ranks needs an MpiCommunicator";
    auto nccl = std::make_unique<NcclCommunicator>(World::FromMpi(mpi->comm()), mpi->comm());
    const int device = nccl->device();
    cudaStream_t stream = nccl->stream();  // owned by the communicator
    runner =
        std::make_unique<CudaModelRunner>(device, stream, /*own_stream=*/false, std::move(nccl));
#else
    CHECK(false) << "CheckDeviceUsable lets no multi-rank CUDA job through without NCCL";
#endif
  }
  Status st = runner->Load(src, plan);
  if (!st.ok()) return st;
  return std::unique_ptr<ModelRunner>(std::move(runner));
}

}  // namespace gs
