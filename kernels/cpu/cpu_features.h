// What the CPU runs, asked once at run time: the kernels built for wider
// vectors are called only where it reports them.
#pragma once

namespace gs::kernels::cpu {

// AVX-512 F, BW, VL and DQ: the float kernels' 16-lane forms.
bool CpuHasAvx512();

// The above and AVX-512 VNNI: the quantized kernels' integer dot products.
bool CpuHasAvx512Vnni();

}  // namespace gs::kernels::cpu
