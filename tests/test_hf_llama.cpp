// Hugging Face Llama-family directories (tests/data/llama_interop, tools/make_llama_interop.py): Qwen2
// GQA F32 in two shards, Llama MQA F16 tied, Llama MHA BF16 match the independent float64 PyTorch
// Llama (last logits < 1e-4, greedy tokens with the cache on and off), and every config or file the
// engine cannot run gets one clear error naming the file and the field.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "forward/gpt.hpp"
#include "model/checkpoint_files.hpp"
#include "model/hf_model.hpp"
#include "model/model_spec.hpp"
#include "run/session.hpp"
#include "temp_dir.hpp"
#include "test_helpers.hpp"

using namespace kvlab;
using test::TempDir;
using json = nlohmann::json;

namespace {
const std::string kLlamaInterop = std::string(KVLAB_TEST_DATA) + "/llama_interop";

json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

// A copy of one fixture directory whose config.json is edited by `edit`; the load's error message.
template <typename Edit>
std::string error_with_config(const std::string& fixture, Edit edit) {
  TempDir d;
  d.copy_from(kLlamaInterop + "/" + fixture);
  json config = read_json(d.path / "config.json");
  edit(config);
  d.write("config.json", config.dump());
  try {
    load_hf_model_dir(d.path);
  } catch (const ModelLoadError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("HF Llama and Qwen2 directories match the independent PyTorch Llama (GQA F32 sharded, MQA F16 tied, MHA BF16)",
          "[hf][llama][interop]") {
  const json ref = read_json(kLlamaInterop + "/reference.json");
  struct Expect { const char* dir; int kv_heads; bool tied, bias; WeightDtype dtype; };
  for (const Expect& x : {Expect{"qwen2_gqa_f32", 2, false, true, WeightDtype::F32}, Expect{"llama_mqa_f16", 1, true, false, WeightDtype::F16},
                          Expect{"llama_mha_bf16", 4, false, false, WeightDtype::F32}}) {
    INFO(x.dir);
    const LoadedModel m = load_model(kLlamaInterop + "/" + x.dir);
    CHECK(m.warnings.empty());
    const GptConfig& c = m.gpt->config();
    CHECK(c.is_llama());
    CHECK(c.kv_heads() == x.kv_heads);
    CHECK(c.tied_lm_head() == x.tied);
    CHECK(c.qkv_bias == x.bias);
    CHECK(m.gpt->weights().matrix_dtype() == x.dtype);  // F16 stays F16; BF16 becomes F32
    for (const auto& r : ref[x.dir]) {
      const auto prompt = r["prompt"].get<std::vector<int>>();
      INFO("prompt of " << prompt.size());
      const RowMatrix logits = forward_all_positions(*m.gpt, prompt);
      const auto expected = r["last_logits"].get<std::vector<double>>();
      REQUIRE(expected.size() == static_cast<std::size_t>(logits.cols()));
      CHECK(test::last_row_max_diff(logits, expected) < 1e-4);
      for (bool cache : {true, false}) CHECK(test::greedy_tokens(m, prompt, 8, cache) == r["greedy"].get<std::vector<int>>());
    }
  }
  // tokenizer.json + tokenizer_config.json: the MQA model adds its BOS, Qwen2's has none
  CHECK(load_model(kLlamaInterop + "/llama_mqa_f16").tokenizer->bos_id() == 262);
  CHECK(load_model(kLlamaInterop + "/qwen2_gqa_f32").tokenizer->bos_id() == -1);
  // " the" is one token (three merges), " cat" three (" c", "a", "t")
  CHECK(load_model(kLlamaInterop + "/llama_mqa_f16").tokenizer->encode(" the cat").size() == 4);
}

TEST_CASE("Llama config.json fields the engine cannot run are refused by name", "[hf][llama]") {
  const std::string f = "llama_mha_bf16";
  CHECK_THAT(error_with_config(f, [](json& c) { c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}}; }),
             Catch::Contains("rope_scaling \"llama3\" is not supported"));
  CHECK(error_with_config(f, [](json& c) { c["rope_scaling"] = {{"rope_type", "default"}}; }) == "no error");
  CHECK_THAT(error_with_config(f, [](json& c) { c["num_key_value_heads"] = 3; }),
             Catch::Contains("num_key_value_heads 3 must divide num_attention_heads 4"));
  CHECK_THAT(error_with_config(f, [](json& c) { c["head_dim"] = 16; }), Catch::Contains("head_dim 16 is not hidden_size / num_attention_heads"));
  CHECK_THAT(error_with_config(f, [](json& c) { c["hidden_act"] = "gelu"; }), Catch::Contains("hidden_act must be \"silu\""));
  CHECK_THAT(error_with_config(f, [](json& c) { c["attention_bias"] = true; }), Catch::Contains("attention_bias true"));
  CHECK_THAT(error_with_config(f, [](json& c) { c.erase("hidden_size"); }), Catch::Contains("config.json: missing \"hidden_size\""));
  CHECK_THAT(error_with_config(f, [](json& c) { c["rope_theta"] = -1; }), Catch::Contains("\"rope_theta\" must be a number above 1 and at most 1e+09"));
  CHECK_THAT(error_with_config(f, [](json& c) { c["model_type"] = "phi"; c["architectures"] = {"PhiForCausalLM"}; }),
             Catch::Contains("model_type \"phi\" is not supported"));
  CHECK_THAT(error_with_config("qwen2_gqa_f32", [](json& c) { c["use_sliding_window"] = true; }),
             Catch::Contains("sliding-window attention is not supported"));
  // tied in config.json while the file also has a head of the same shape: tied, as Hugging Face does
  CHECK_THAT(error_with_config(f, [](json& c) { c["tie_word_embeddings"] = true; }), Catch::Contains("no error"));
  // untied in config.json, but the file has no lm_head
  CHECK_THAT(error_with_config("llama_mqa_f16", [](json& c) { c["tie_word_embeddings"] = false; }),
             Catch::Contains("tensor 'lm_head.weight' is missing"));
  // a shape that disagrees: intermediate_size changes what gate/up/down must be, named in the file's (out, in) order
  CHECK_THAT(error_with_config(f, [](json& c) { c["intermediate_size"] = 64; }),
             Catch::Contains("tensor 'model.layers.0.mlp.gate_proj.weight' has shape (48, 32) but config.json implies (64, 32)"));
  // a long context is shortened, with a note (RoPE positions are not weights)
  TempDir d;
  d.copy_from(kLlamaInterop + "/" + f);
  json c = read_json(d.path / "config.json");
  c["max_position_embeddings"] = 131072;
  d.write("config.json", c.dump());
  const LoadedModel m = load_hf_model_dir(d.path);
  CHECK(m.gpt->config().n_ctx == 32768);
  REQUIRE(m.warnings.size() == 1);
  CHECK_THAT(m.warnings[0], Catch::Contains("limited to 32768 positions (config.json allows 131072)"));
}

TEST_CASE("sharded checkpoints: the index is validated before any shard is trusted", "[hf][llama][safetensors]") {
  CHECK(parse_safetensors_index(R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors"}})", "i").size() == 1);
  CHECK_THROWS_WITH(parse_safetensors_index("[]", "i"), Catch::Contains("i: expected a JSON object with a \"weight_map\""));
  CHECK_THROWS_WITH(parse_safetensors_index("{", "i"), Catch::Contains("i: not valid JSON"));
  CHECK_THROWS_WITH(parse_safetensors_index(R"({"weight_map":{}})", "i"), Catch::Contains("the weight_map is empty"));
  CHECK_THROWS_WITH(parse_safetensors_index(R"({"weight_map":{"a":3}})", "i"), Catch::Contains("the file of tensor 'a' must be a string"));
  for (const char* bad : {"../model.safetensors", "sub/model.safetensors", "model.bin", ".safetensors"})
    CHECK_THROWS_WITH(parse_safetensors_index(std::string(R"({"weight_map":{"a":")") + bad + "\"}}", "i"),
                      Catch::Contains("a shard must be a .safetensors file of this directory"));

  const std::string fixture = kLlamaInterop + "/qwen2_gqa_f32";
  auto load_error = [&](const std::function<void(const TempDir&)>& edit) {
    TempDir d;
    d.copy_from(fixture);
    edit(d);
    try {
      load_hf_model_dir(d.path);
    } catch (const ModelLoadError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(load_error([](const TempDir& d) { std::filesystem::remove(d.path / "model-00002-of-00002.safetensors"); }),
             Catch::Contains("model-00002-of-00002.safetensors: cannot open the file"));
  CHECK_THAT(load_error([](const TempDir& d) {
               json index = read_json(d.path / "model.safetensors.index.json");
               index["weight_map"]["model.norm.weight"] =
                   index["weight_map"]["model.norm.weight"] == "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors"
                                                                                                  : "model-00001-of-00002.safetensors";
               d.write("model.safetensors.index.json", index.dump());
             }),
             Catch::Contains("tensor 'model.norm.weight' should be in"));
  CHECK_THAT(load_error([](const TempDir& d) {
               std::filesystem::copy_file(d.path / "model-00001-of-00002.safetensors", d.path / "model-00003-of-00003.safetensors");
               json index = read_json(d.path / "model.safetensors.index.json");
               index["weight_map"]["extra"] = "model-00003-of-00003.safetensors";
               d.write("model.safetensors.index.json", index.dump());
             }),
             Catch::Contains("a tensor must be in one file only"));
  CHECK_THAT(load_error([](const TempDir& d) {
               std::filesystem::remove(d.path / "model.safetensors.index.json");
             }),
             Catch::Contains("has no model.safetensors"));
}
