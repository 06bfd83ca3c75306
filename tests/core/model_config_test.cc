// config.json parsing, on the published configs of the supported families.
#include "core/model_config.h"

#include <gtest/gtest.h>

namespace gs {
namespace {

// meta-llama/Llama-3.1-8B-Instruct config.json.
constexpr const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 128256})";

// Qwen/Qwen2-0.5B-Instruct config.json.
constexpr const char* kQwen2 = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1", "use_cache": true, "use_sliding_window": false,
  "vocab_size": 151936})";

// mistralai/Mistral-7B-v0.1 config.json.
constexpr const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.34.0.dev0",
  "use_cache": true, "vocab_size": 32000})";

// An older Llama config: no num_key_value_heads, head_dim or tie flag; linear RoPE scaling.
constexpr const char* kOldLlama = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "intermediate_size": 5632,
  "num_attention_heads": 32, "num_hidden_layers": 22, "vocab_size": 32000,
  "rope_scaling": {"type": "linear", "factor": 2.0}, "bos_token_id": 1, "eos_token_id": 2})";

TEST(ModelConfigTest, Llama31) {
  auto c = ParseHfConfig(kLlama31, "llama/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, "llama");
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->intermediate_size, 14336);
  EXPECT_EQ(c->n_layers, 32);
  EXPECT_EQ(c->n_heads, 32);
  EXPECT_EQ(c->n_kv_heads, 8);
  EXPECT_EQ(c->group_size(), 4);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->max_position, 131072);
  EXPECT_FLOAT_EQ(c->rms_norm_eps, 1e-5f);
  EXPECT_EQ(c->rope_theta, 500000.0f);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0f);
  EXPECT_EQ(c->rope_scaling.low_freq_factor, 1.0f);
  EXPECT_EQ(c->rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c->rope_scaling.original_max_position, 8192);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attn_bias);
  EXPECT_EQ(c->bos_id, 128000);
  EXPECT_EQ(c->eos_ids, (std::vector<int>{128001, 128008, 128009}));
}

TEST(ModelConfigTest, Qwen2HasBiasAndTiedEmbeddings) {
  auto c = ParseHfConfig(kQwen2, "qwen/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, "qwen2");
  EXPECT_TRUE(c->attn_bias);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->n_heads, 14);
  EXPECT_EQ(c->n_kv_heads, 2);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(c->rms_norm_eps, 1e-6f);
  EXPECT_EQ(c->eos_ids, std::vector<int>{151645});
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);
}

TEST(ModelConfigTest, Mistral) {
  auto c = ParseHfConfig(kMistral, "mistral/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, "mistral");
  EXPECT_EQ(c->n_kv_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->vocab_size, 32000);
  EXPECT_FALSE(c->attn_bias);
}

TEST(ModelConfigTest, DefaultsAndLinearScaling) {
  auto c = ParseHfConfig(kOldLlama, "old/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->n_kv_heads, 32);  // absent: as many KV heads as query heads
  EXPECT_EQ(c->head_dim, 64);    // absent: hidden / heads
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_EQ(c->rope_scaling.factor, 2.0f);
  EXPECT_EQ(c->rope_theta, 10000.0f);
  EXPECT_EQ(c->eos_ids, std::vector<int>{2});
}

TEST(ModelConfigTest, ExplicitHeadDimWins) {
  auto c = ParseHfConfig(R"({"architectures": ["MistralForCausalLM"], "hidden_size": 5120,
      "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 40,
      "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 131072})",
                         "nemo/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->head_dim, 128);
}

TEST(ModelConfigTest, NotJsonIsCorruptionNamingTheFile) {
  auto c = ParseHfConfig("{\"hidden_size\": 12,", "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kCorruption);
  EXPECT_NE(c.status().message().find("/m/config.json"), std::string::npos);
}

TEST(ModelConfigTest, MissingKeyIsNamed) {
  std::string text = kMistral;
  text.replace(text.find("\"num_hidden_layers\""), 19, "\"num_hidden_layerz\"");
  auto c = ParseHfConfig(text, "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("num_hidden_layers"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("/m/config.json"), std::string::npos);
}

TEST(ModelConfigTest, WrongTypeIsNamed) {
  std::string text = kMistral;
  text.replace(text.find("\"vocab_size\": 32000"), 19, "\"vocab_size\": \"big\"");
  auto c = ParseHfConfig(text, "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("vocab_size"), std::string::npos) << c.status().message();
}

TEST(ModelConfigTest, UnsupportedArchitectureAndScalingAreRefused) {
  auto c = ParseHfConfig(R"({"architectures": ["GPT2LMHeadModel"]})", "/g/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(c.status().message().find("GPT2LMHeadModel"), std::string::npos);

  std::string text = kQwen2;
  text.replace(text.find("\"rope_theta\""), 0,
               R"("rope_scaling": {"type": "yarn", "factor": 4.0}, )");
  c = ParseHfConfig(text, "/q/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("yarn"), std::string::npos) << c.status().message();
}

TEST(ModelConfigTest, ValidateChecksGroupsDivideHeads) {
  std::string text = kMistral;
  text.replace(text.find("\"num_key_value_heads\": 8"), 24, "\"num_key_value_heads\": 5");
  auto c = ParseHfConfig(text, "/m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("n_kv_heads"), std::string::npos) << c.status().message();

  ModelConfig ok = *ParseHfConfig(kMistral, "x");
  EXPECT_TRUE(ok.Validate().ok());
  ModelConfig bad = ok;
  bad.hidden_size = 0;
  EXPECT_FALSE(bad.Validate().ok());
  bad = ok;
  bad.head_dim = 7;
  EXPECT_FALSE(bad.Validate().ok());
  bad = ok;
  bad.eos_ids = {32000};
  EXPECT_FALSE(bad.Validate().ok());
}

}  // namespace
}  // namespace gs
