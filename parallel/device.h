// Which device a rank computes on (`--device cpu|cuda`), and whether this
// process can use a GPU at all. Safe to call in builds without CUDA and on
// machines without a driver: nothing here aborts.
#pragma once

#include <string>

#include "kernels/dtype.h"
#include "kernels/status.h"

namespace gs {

enum class Device { kCpu, kCuda };

const char* DeviceName(Device device);  // "cpu", "cuda"
// Accepts "cpu" and "cuda".
StatusOr<Device> ParseDevice(const std::string& name);

// CUDA devices this process can use: 0 in a build without CUDA or when the
// runtime refuses. On 0, `why` (if given) says why, e.g. "cudaGetDeviceCount:
// error 35, cudaErrorInsufficientDriver: ...".
int CudaDeviceCount(std::string* why = nullptr);
bool CudaDeviceAvailable();
// kCuda when CudaDeviceAvailable(), else kCpu.
Device DefaultDevice();

// The KV-cache dtype the commands use on `device` when --kv-dtype is not
// given: f16 on the CPU (half the bytes of f32 for a perplexity change under
// 0.1%, README), bf16 on CUDA.
DType DefaultKvDType(Device device);

// Ok when `device` can run a group of `tp_size` ranks of which
// `ranks_on_node` share this node, one GPU each (and NCCL when tp_size > 1);
// otherwise InvalidArgument naming the problem, starting with "--device cuda:".
Status CheckDeviceUsable(Device device, int tp_size, int ranks_on_node);

}  // namespace gs
