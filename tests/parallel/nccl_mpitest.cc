// NcclCommunicator collectives across ranks, one GPU each, checked against
// the sums and layouts the Communicator interface promises. Skips (on every
// rank together) unless each node has a GPU per local rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <vector>

#include "parallel/mpi_communicator.h"

#if defined(GS_HAVE_CUDA) && defined(GS_HAVE_NCCL)
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "parallel/cuda/nccl_communicator.h"
#endif

namespace gs {
namespace {

#if defined(GS_HAVE_CUDA) && defined(GS_HAVE_NCCL)

using kernels::cuda::DeviceBuffer;

// Collective: true on every rank iff every rank has its own GPU.
bool EveryRankHasAGpu(const World& w) {
  int ok = kernels::cuda::DeviceCount() >= w.local_size ? 1 : 0, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

template <typename T>
std::vector<T> Fetch(const NcclCommunicator& c, const DeviceBuffer& b, size_t n) {
  CUDA_CHECK(cudaStreamSynchronize(c.stream()));
  std::vector<T> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

template <typename T>
DeviceBuffer Put(const std::vector<T>& h) {
  DeviceBuffer b(std::max<size_t>(h.size(), 1) * sizeof(T));
  CUDA_CHECK(cudaMemcpy(b.get(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}

#define GS_REQUIRE_GPU_PER_RANK(world)                                      \
  do {                                                                      \
    if (!EveryRankHasAGpu(world)) GTEST_SKIP() << "needs one GPU per rank"; \
  } while (0)

TEST(NcclCommunicatorTest, CollectivesOnDevicePointers) {
  const World world = World::FromMpi();
  GS_REQUIRE_GPU_PER_RANK(world);
  NcclCommunicator comm(world);
  const int P = comm.size(), r = comm.rank();
  ASSERT_EQ(P, world.tp_size);

  // All-reduce: rank r contributes (r + 1) * i.
  const size_t n = 1000;
  std::vector<float> mine(n);
  for (size_t i = 0; i < n; ++i) mine[i] = static_cast<float>((r + 1) * i);
  DeviceBuffer d = Put(mine);
  comm.AllReduceSum(d.get<float>(), n);
  auto sum = Fetch<float>(comm, d, n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(sum[i], static_cast<float>(P * (P + 1) / 2 * i));

  // All-gather: three ints of value r from each rank, in rank order.
  DeviceBuffer send = Put(std::vector<int32_t>(3, r));
  DeviceBuffer recv(3 * P * sizeof(int32_t));
  comm.AllGather(send.get(), 3 * sizeof(int32_t), recv.get());
  auto all = Fetch<int32_t>(comm, recv, 3 * P);
  for (int i = 0; i < 3 * P; ++i) ASSERT_EQ(all[i], i / 3);

  // GatherV to the last rank: rank q sends q + 1 floats of value q.
  std::vector<int> counts(P);
  int total = 0;
  for (int q = 0; q < P; ++q) total += counts[q] = q + 1;
  DeviceBuffer part = Put(std::vector<float>(r + 1, static_cast<float>(r)));
  DeviceBuffer gathered(total * sizeof(float));
  comm.GatherV(part.get<float>(), counts, gathered.get<float>(), P - 1);
  if (r == P - 1) {
    auto g = Fetch<float>(comm, gathered, total);
    int at = 0;
    for (int q = 0; q < P; ++q) {
      for (int j = 0; j <= q; ++j) ASSERT_EQ(g[at++], static_cast<float>(q)) << "from " << q;
    }
  }

  // Broadcast from rank 1 % P.
  const int root = 1 % P;
  DeviceBuffer b = Put(std::vector<int32_t>(5, r == root ? 42 : -1));
  comm.Broadcast(b.get(), 5 * sizeof(int32_t), root);
  for (int32_t v : Fetch<int32_t>(comm, b, 5)) ASSERT_EQ(v, 42);
  comm.Barrier();
}

#else

TEST(NcclCommunicatorTest, CollectivesOnDevicePointers) {
  GTEST_SKIP() << "built without CUDA/NCCL";
}

#endif

}  // namespace
}  // namespace gs
