// The --activations option shared by the commands that run the model.
#pragma once

#include <CLI/CLI.hpp>

#include "kernels/matmul.h"

namespace gs::launcher {

inline void AddActivationsFlag(CLI::App& app, kernels::Activations* act) {
  const std::map<std::string, kernels::Activations> names = {
      {"int8", kernels::Activations::kInt8}, {"fp32", kernels::Activations::kFp32}};
  app.add_option("--activations", *act,
                 "How quantized weights meet activations: int8 (8-bit activation blocks, "
                 "fast) or fp32 (exactly the dequantized product)")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->default_str("int8");
}

}  // namespace gs::launcher
