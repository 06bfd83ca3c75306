// Status and StatusOr: values, errors, and the invariant that a StatusOr
// without a value holds an error, checked in Release builds too.
#include "kernels/status.h"

#include <gtest/gtest.h>

#include <string>

namespace gs {
namespace {

TEST(StatusOrTest, HoldsAValueOrAnError) {
  StatusOr<std::string> v(std::string("x"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "x");
  StatusOr<std::string> e(Status::NotFound("no such tensor"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

TEST(StatusOrDeathTest, AnOkStatusWithoutAValueIsABrokenInvariant) {
  // NDEBUG builds (the default Release) used to let this through as ok()
  // with an empty value.
  EXPECT_DEATH({ StatusOr<int> bad(Status::Ok()); }, "StatusOr built from an OK Status");
}

}  // namespace
}  // namespace gs
