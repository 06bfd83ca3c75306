#include "core/gqa_convert.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kernels/check.h"
#include "kernels/dtype.h"
#include "core/model_config.h"
#include "core/safetensors_source.h"
#include "core/safetensors_writer.h"

namespace gs {

namespace fs = std::filesystem;

namespace {

// Files a Hugging Face model directory carries besides weights and config.
constexpr const char* kSideFiles[] = {"tokenizer.json",
                                      "tokenizer_config.json",
                                      "special_tokens_map.json",
                                      "generation_config.json",
                                      "tokenizer.model",
                                      "vocab.json",
                                      "merges.txt",
                                      "added_tokens.json",
                                      "chat_template.jinja"};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Key/value projection weights and biases: the tensors whose rows are KV heads.
bool IsKvProjection(const std::string& name) {
  for (const char* s : {"self_attn.k_proj.weight", "self_attn.v_proj.weight",
                        "self_attn.k_proj.bias", "self_attn.v_proj.bias"}) {
    if (EndsWith(name, s)) return true;
  }
  return false;
}

void Encode(DType t, const std::vector<float>& v, std::vector<uint8_t>* out) {
  const size_t n = v.size();
  out->resize(n * BlockBytes(t));
  if (t == DType::kF32) {
    std::memcpy(out->data(), v.data(), n * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = t == DType::kBF16 ? FloatToBFloat16(v[i]) : FloatToHalf(v[i]);
    std::memcpy(out->data() + 2 * i, &h, 2);
  }
}

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<float> MeanPoolHeads(const std::vector<float>& w, int n_old_heads, int head_dim,
                                 int64_t cols, int per_group) {
  CHECK(per_group > 0 && n_old_heads % per_group == 0) << n_old_heads << " / " << per_group;
  CHECK_EQ(static_cast<int64_t>(w.size()), static_cast<int64_t>(n_old_heads) * head_dim * cols);
  const int n_new = n_old_heads / per_group;
  const int64_t head_elems = static_cast<int64_t>(head_dim) * cols;
  std::vector<float> out(static_cast<size_t>(n_new * head_elems));
  for (int g = 0; g < n_new; ++g) {
    for (int64_t i = 0; i < head_elems; ++i) {
      double sum = 0;  // in double so the mean does not depend on summation order much
      for (int j = 0; j < per_group; ++j) sum += w[(g * per_group + j) * head_elems + i];
      out[g * head_elems + i] = static_cast<float>(sum / per_group);
    }
  }
  return out;
}

StatusOr<GqaConvertResult> ConvertToGqa(const std::string& model_dir, int kv_groups,
                                        const std::string& out_dir) {
  if (!fs::is_directory(model_dir)) {
    return Status::InvalidArgument(model_dir +
                                   ": convert needs a Hugging Face directory (config.json + "
                                   "safetensors), not a file");
  }
  GS_ASSIGN_OR_RETURN(auto src, SafetensorsSource::Open(model_dir));
  const ModelConfig& c = src->config();
  if (kv_groups < 1 || c.n_kv_heads % kv_groups != 0) {
    std::string ok;
    for (int g = 1; g <= c.n_kv_heads; ++g) {
      if (c.n_kv_heads % g == 0) ok += (ok.empty() ? "" : ", ") + std::to_string(g);
    }
    return Status::InvalidArgument("--kv-groups " + std::to_string(kv_groups) +
                                   " does not divide " + model_dir + "'s " +
                                   std::to_string(c.n_kv_heads) + " KV heads; possible: " + ok);
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::IOError(out_dir + ": cannot create: " + ec.message());
  if (fs::equivalent(model_dir, out_dir, ec)) {
    return Status::InvalidArgument(out_dir + ": the output must not be the input directory");
  }
  if (fs::exists(fs::path(out_dir) / "model.safetensors.index.json")) {
    return Status::InvalidArgument(out_dir +
                                   " already holds a sharded checkpoint "
                                   "(model.safetensors.index.json); use an empty directory");
  }

  GqaConvertResult res;
  res.n_heads = c.n_heads;
  res.old_kv_heads = c.n_kv_heads;
  res.new_kv_heads = kv_groups;
  const int per_group = c.n_kv_heads / kv_groups;

  std::vector<SafetensorsEntry> entries;
  for (const std::string& name : src->TensorNames()) {
    const TensorInfo* info = src->Find(name);
    CHECK(info != nullptr) << name;
    SafetensorsEntry e{name, info->dtype, info->shape};
    if (IsKvProjection(name)) {
      if (info->shape.empty() ||
          info->shape[0] != static_cast<int64_t>(c.n_kv_heads) * c.head_dim) {
        return Status::Corruption(
            model_dir + ": tensor " + name + " has " +
            std::to_string(info->shape.empty() ? 0 : info->shape[0]) +
            " rows, expected n_kv_heads * head_dim = " + std::to_string(c.n_kv_heads * c.head_dim));
      }
      e.shape[0] = static_cast<int64_t>(kv_groups) * c.head_dim;
    }
    entries.push_back(std::move(e));
  }
  const std::string weights = (fs::path(out_dir) / "model.safetensors").string();
  GS_RETURN_IF_ERROR(WriteSafetensors(weights, entries, [&](size_t i, std::vector<uint8_t>* out) {
    const TensorInfo& info = *src->Find(entries[i].name);
    const Range rows{0, info.rows()}, cols{0, info.cols()};
    if (!IsKvProjection(info.name)) {
      ++res.copied_tensors;
      return src->ReadRaw(info.name, rows, cols, out);
    }
    std::vector<float> w(static_cast<size_t>(rows.size() * cols.size()));
    GS_RETURN_IF_ERROR(src->ReadF32(info.name, rows, cols, w.data()));
    Encode(info.dtype, MeanPoolHeads(w, c.n_kv_heads, c.head_dim, cols.size(), per_group), out);
    ++res.pooled_tensors;
    return Status::Ok();
  }));

  const std::string config_in = model_dir + "/config.json";
  GS_ASSIGN_OR_RETURN(std::string config_text, ReadText(config_in));
  auto config = nlohmann::ordered_json::parse(config_text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return Status::Corruption(config_in + ": not valid JSON");
  config["num_key_value_heads"] = kv_groups;
  const std::string config_out = (fs::path(out_dir) / "config.json").string();
  {
    std::ofstream out(config_out, std::ios::trunc);
    out << config.dump(2) << "\n";
    if (!out) return Status::IOError(config_out + ": write failed");
  }
  for (const char* f : kSideFiles) {
    const fs::path from = fs::path(model_dir) / f;
    if (!fs::exists(from)) continue;
    fs::copy_file(from, fs::path(out_dir) / f, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return Status::IOError((fs::path(out_dir) / f).string() + ": cannot copy: " + ec.message());
    res.copied_files.push_back(f);
  }
  return res;
}

}  // namespace gs
