// Passes over one row of logits for the sampler: the largest value, where
// it is, and sums of exponentials. Each reads the row once, eight floats at
// a time; a vocabulary of 128k takes tens of microseconds, not milliseconds.
#pragma once

#include <cstdint>

namespace gs::kernels {

// The largest of x[0..n), n > 0 (NaNs are skipped unless all are NaN).
float MaxOf(const float* x, int64_t n);

// The index of the largest value, the first one on ties; 0 if every value
// is NaN. n > 0.
int64_t ArgMax(const float* x, int64_t n);

// Σ e^((x_i - shift) · scale) over i < n, summed in double. Terms whose
// exponent is below -87 count as 0 (e^-87 is 1.6e-38). If `out` is not
// null it receives each term as a float (it may alias x).
double SumExp(const float* x, int64_t n, float shift, float scale, float* out);

// Writes the indices i < n with x[i] >= cut to out (room for n), in order,
// and returns how many there are.
int64_t IndicesAtLeast(const float* x, int64_t n, float cut, int32_t* out);

}  // namespace gs::kernels
