#include "tests/model_harness.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

namespace gs::testing {

Golden LoadGolden(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  Golden g;
  g.token_ids = j.at("token_ids").get<std::vector<int32_t>>();
  g.n_vocab = j.at("n_vocab").get<int>();
  if (j.contains("logits")) g.logits = j["logits"].get<std::vector<std::vector<float>>>();
  if (j.contains("greedy_ids")) g.greedy_ids = j["greedy_ids"].get<std::vector<int32_t>>();
  if (j.contains("greedy_logits")) {
    g.greedy_logits = j["greedy_logits"].get<std::vector<std::vector<float>>>();
  }
  return g;
}

double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  if (a.size() != b.size()) return 1e30;
  return den == 0 ? num : num / den;
}

SequenceRunner::SequenceRunner(LlamaModel& model, int max_tokens, int block_size)
    : model_(model), block_size_(block_size) {
  const int n_blocks = (max_tokens + block_size - 1) / block_size + 1;
  cache_ = model.MakeKvCache(n_blocks, block_size);
  // A scrambled block table, so paging is really exercised.
  for (int b = 0; b < n_blocks; ++b) block_table_.push_back((b * 7 + 3) % n_blocks);
}

std::vector<std::vector<float>> SequenceRunner::Feed(const std::vector<int32_t>& tokens) {
  ModelInput in;
  in.max_blocks = static_cast<int32_t>(block_table_.size());
  in.block_tables = block_table_;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int p = pos_ + static_cast<int>(i);
    in.tokens.push_back(tokens[i]);
    in.positions.push_back(p);
    in.slots.push_back(KvSlot(block_table_.data(), block_size_, p));
    in.token_seq.push_back(0);
    in.logit_rows.push_back(static_cast<int32_t>(i));
  }
  const int V = model_.config().vocab_size;
  std::vector<float> flat(tokens.size() * V);
  model_.Forward(in, *cache_, flat.data());
  pos_ += static_cast<int>(tokens.size());
  std::vector<std::vector<float>> out(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    out[i].assign(flat.begin() + i * V, flat.begin() + (i + 1) * V);
  }
  return out;
}

}  // namespace gs::testing
