// parallel/device: naming the device, and refusing CUDA with one clear reason
// where there is no GPU (the tests that need one skip elsewhere).
#include "parallel/device.h"

#include <gtest/gtest.h>

#include "parallel/communicator.h"
#include "core/rank_model.h"

namespace gs {
namespace {

TEST(DeviceTest, ParsesTheTwoNames) {
  ASSERT_TRUE(ParseDevice("cpu").ok());
  EXPECT_EQ(*ParseDevice("cpu"), Device::kCpu);
  ASSERT_TRUE(ParseDevice("cuda").ok());
  EXPECT_EQ(*ParseDevice("cuda"), Device::kCuda);
  auto bad = ParseDevice("gpu");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("gpu"), std::string::npos);
  EXPECT_STREQ(DeviceName(Device::kCpu), "cpu");
  EXPECT_STREQ(DeviceName(Device::kCuda), "cuda");
}

TEST(DeviceTest, CpuIsAlwaysUsable) { EXPECT_TRUE(CheckDeviceUsable(Device::kCpu, 4, 4).ok()); }

TEST(DeviceTest, DefaultIsCudaExactlyWhenAGpuIsUsable) {
  EXPECT_EQ(DefaultDevice(), CudaDeviceAvailable() ? Device::kCuda : Device::kCpu);
  LocalCommunicator one;
  EXPECT_EQ(DefaultDeviceForGroup(one), DefaultDevice());
}

TEST(DeviceTest, CudaWithoutAGpuNamesTheReason) {
  if (CudaDeviceAvailable()) GTEST_SKIP() << "a CUDA device is present";
  std::string why;
  EXPECT_EQ(CudaDeviceCount(&why), 0);
  EXPECT_FALSE(why.empty());
  const Status st = CheckDeviceUsable(Device::kCuda, 1, 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("--device cuda: ", 0), 0u) << st.message();
#ifdef GS_HAVE_CUDA
  EXPECT_NE(st.message().find("no CUDA device (cudaGetDeviceCount"), std::string::npos)
      << st.message();
#else
  EXPECT_NE(st.message().find("no CUDA backend"), std::string::npos) << st.message();
#endif
}

TEST(DeviceTest, MoreRanksOnANodeThanGpusIsRefused) {
  const int n = CudaDeviceCount();
  if (n == 0) GTEST_SKIP() << "no usable CUDA device";
  EXPECT_TRUE(CheckDeviceUsable(Device::kCuda, 1, 1).ok());
  const Status st = CheckDeviceUsable(Device::kCuda, n + 1, n + 1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ranks on this node"), std::string::npos) << st.message();
}

TEST(DeviceTest, LoadingOnCudaWithoutAGpuFailsBeforeReadingTheModel) {
  if (CudaDeviceAvailable()) GTEST_SKIP() << "a CUDA device is present";
  LocalCommunicator one;
  auto rm = LoadRankModel("/no/such/model.gguf", one, Device::kCuda);
  ASSERT_FALSE(rm.ok());
  EXPECT_EQ(rm.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(rm.status().message().find("--device cuda"), std::string::npos);
}

}  // namespace
}  // namespace gs
