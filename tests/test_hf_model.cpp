// Hugging Face GPT-2 directories: both layouts, F16 and BF16 match the independent PyTorch reference
// (tools/make_interop.py), and every malformed directory gets its clear error (no crash).
// The safetensors reader's own catalogue and fuzz tests are in test_safetensors.cpp.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "forward/gpt.hpp"
#include "model/hf_model.hpp"
#include "model/hf_writer.hpp"
#include "model/model_spec.hpp"
#include "model/safetensors.hpp"
#include "safetensors_builder.hpp"
#include "temp_dir.hpp"
#include "test_helpers.hpp"

using namespace kvlab;
namespace fs = std::filesystem;
using test::Tensor;
using test::safetensors_bytes;
using test::TempDir;

namespace {
const std::string kInterop = std::string(KVLAB_TEST_DATA) + "/interop";



// A valid tiny model directory (2 layers, C=8, vocab 96 unless asked, T=8) written from a random engine model.
void write_valid_model(const TempDir& d, std::string prefix = "", int vocab = 96) {
  const GptConfig c{vocab, 8, 8, 2, 2};
  const LoadedModel m = make_random_model(c, 3, "x");
  std::vector<Tensor> ts;
  for (const auto& t : m.gpt->weights().tensors()) {
    std::string bytes(t.numel() * 4, '\0');
    std::memcpy(bytes.data(), m.gpt->weights().data(t), bytes.size());
    ts.push_back({prefix + t.name, "F32", t.shape, bytes, ""});
  }
  d.write("model.safetensors", safetensors_bytes(ts));
  d.write("config.json", R"({"vocab_size":)" + std::to_string(vocab) +
                             R"(,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2,"activation_function":"gelu_new"})");
  nlohmann::json chars = CharTokenizer::printable_ascii_symbols();
  d.write("kvlab_chars.json", chars.dump());
}

// The tensors of d's model.safetensors as F32 entries, for tests that edit a valid model.
std::vector<Tensor> model_tensors(const TempDir& d) {
  const auto full = SafetensorsFile::open(d.path / "model.safetensors");
  std::vector<Tensor> ts;
  for (const auto& e : full.entries()) {
    std::string bytes(e.numel * 4, '\0');
    full.read_f32(e, reinterpret_cast<float*>(bytes.data()));
    ts.push_back({e.name, "F32", e.shape, bytes, ""});
  }
  return ts;
}
}  // namespace

TEST_CASE("HF GPT-2 directories in both layouts, F16 and BF16 match the PyTorch reference", "[hf]") {
  std::ifstream f(kInterop + "/reference.json");
  REQUIRE(f.good());
  const nlohmann::json ref = nlohmann::json::parse(f);
  for (const std::string dir : {"hub_f32", "pretrained_f32", "hub_f16", "hub_bf16"}) {
    const char* reference = dir == "hub_f16" ? "f16" : dir == "hub_bf16" ? "bf16" : "f32";
    const LoadedModel m = load_hf_model_dir(kInterop + "/" + dir);
    CHECK(m.warnings.empty());
    // an F16 checkpoint stays F16 in memory; BF16 (and F32) become F32
    CHECK(m.gpt->weights().matrix_dtype() == (dir == "hub_f16" ? WeightDtype::F16 : WeightDtype::F32));
    for (const auto& r : ref[reference]) {
      const auto prompt = r["prompt"].get<std::vector<int>>();
      const RowMatrix logits = forward_all_positions(*m.gpt, prompt);
      INFO(dir << ", prompt of " << prompt.size());
      CHECK(test::last_row_max_diff(logits, r["last_logits"].get<std::vector<double>>()) < 1e-4);
      for (bool cache : {true, false}) CHECK(test::greedy_tokens(m, prompt, 8, cache) == r["greedy"].get<std::vector<int>>());
    }
  }
  // the CLI's model spec reaches the same loader
  CHECK(load_model(kInterop + "/hub_f32").name == "hub_f32");
}

TEST_CASE("malformed model directories get one clear error each", "[hf]") {
  {
    TempDir d;
    write_valid_model(d);
    CHECK_NOTHROW(load_hf_model_dir(d.path));
    write_valid_model(d, "transformer.");
    CHECK_NOTHROW(load_hf_model_dir(d.path));
  }
  {
    TempDir d;
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("no config.json"));
    CHECK_THROWS_WITH(load_hf_model_dir(d.path / "nope"), Catch::Contains("not found"));
    d.write("file.txt", "x");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path / "file.txt"), Catch::Contains("is a file"));
  }
  {  // a required tensor missing
    TempDir d;
    write_valid_model(d);
    auto ts = model_tensors(d);
    std::erase_if(ts, [](const Tensor& t) { return t.name == "h.1.mlp.c_fc.bias"; });
    d.write("model.safetensors", safetensors_bytes(ts));
    CHECK_THROWS_AS(load_hf_model_dir(d.path), ModelLoadError);
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("'h.1.mlp.c_fc.bias' is missing"));
  }
  {  // model.safetensors missing: say what else was found
    TempDir d;
    write_valid_model(d);
    fs::remove(d.path / "model.safetensors");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("no model.safetensors"));
    d.write("model.safetensors.index.json", "{}");  // sharded checkpoints are read (test_hf_llama.cpp); this index is empty
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("model.safetensors.index.json: expected a JSON object with a \"weight_map\""));
  }
  {  // a malformed weights file reaches the user as the reader's message, naming the file
    TempDir d;
    write_valid_model(d);
    d.write("model.safetensors", "");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("model.safetensors: the file is empty"));
  }
  {  // lm_head must be tied-compatible; unknown extra tensors load with a warning
    TempDir d;
    write_valid_model(d);
    auto ts = model_tensors(d);
    ts.push_back({"lm_head.weight", "F32", {96, 4}, std::string(96 * 4 * 4, '\0'), ""});
    d.write("model.safetensors", safetensors_bytes(ts));
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("lm_head.weight") && Catch::Contains("(96, 8)"));
    ts.back() = {"h.0.attn.q_attn.weight", "F32", {2}, std::string(8, '\0'), ""};
    d.write("model.safetensors", safetensors_bytes(ts));
    const LoadedModel m = load_hf_model_dir(d.path);
    REQUIRE(m.warnings.size() == 1);
    CHECK_THAT(m.warnings[0], Catch::Contains("not part of a gpt2 model") && Catch::Contains("h.0.attn.q_attn.weight"));
  }
  {  // the name is the directory's, with or without a trailing slash
    TempDir d;
    write_valid_model(d);
    CHECK(load_hf_model_dir(d.path.string() + "/").name == d.path.filename().string());
  }
  {  // shape disagreeing with config.json
    TempDir d;
    write_valid_model(d);
    d.write("config.json", R"({"vocab_size":96,"n_positions":16,"n_embd":8,"n_layer":2,"n_head":2})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("wpe.weight") && Catch::Contains("(16, 8)"));
  }
  {  // config problems
    TempDir d;
    write_valid_model(d);
    d.write("config.json", "{oops");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("not valid JSON"));
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("missing \"n_head\""));
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2,"activation_function":"relu"})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("relu"));
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2,"n_inner":100})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("n_inner"));
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":3})");
    CHECK_THROWS_AS(load_hf_model_dir(d.path), ConfigError);
    // more memory than the machine has: refused before allocating
    d.write("config.json", R"({"vocab_size":50257,"n_positions":65536,"n_embd":65536,"n_layer":256,"n_head":64})");
    CHECK_THROWS_AS(load_hf_model_dir(d.path), ConfigError);
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("MiB"));
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2,"n_embd":1e9})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("\"n_embd\" must be a whole number"));
    // found by tests/fuzz/fuzz_hf_config: a non-string activation escaped as nlohmann's type_error
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2,"activation_function":["gelu_new"]})");
    CHECK_THROWS_AS(load_hf_model_dir(d.path), ModelLoadError);
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("\"activation_function\" must be a string"));
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2,"layer_norm_epsilon":1e300})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("\"layer_norm_epsilon\" must be a number between 0 and 1"));
    CHECK_THROWS_WITH(parse_hf_config("[1]", "c.json"), Catch::Contains("c.json: expected a JSON object"));
    CHECK(parse_hf_config(R"({"vocab_size":96,"n_ctx":8,"n_embd":8,"n_layer":2,"n_head":2})", "c.json") == GptConfig{96, 8, 8, 2, 2});
  }
  {  // a config claiming a 4 GB model next to a 4 KB file: refused by comparing the tensors first,
     // before allocating (found by tests/fuzz/fuzz_hf_config; the loader allocated 4 GB, then failed)
    TempDir d;
    write_valid_model(d);
    d.write("config.json", R"({"vocab_size":96,"n_positions":8,"n_embd":2048,"n_layer":20,"n_head":4})");
    if (physical_memory_bytes() > (8ull << 30)) {  // smaller machines refuse it earlier, as too big
      const auto t0 = std::chrono::steady_clock::now();
      CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("wte.weight") && Catch::Contains("(96, 2048)"));
      CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));  // zeroing 4 GB takes seconds
    }
    // layout() is the constructor's table, without the allocation
    const GptConfig c{96, 8, 8, 2, 2};
    const auto table = GptWeights::layout(c);
    const GptWeights w(c);
    REQUIRE(table.size() == w.tensors().size());
    for (std::size_t i = 0; i < table.size(); ++i)
      CHECK((table[i].name == w.tensors()[i].name && table[i].shape == w.tensors()[i].shape && table[i].offset == w.tensors()[i].offset));
  }
  {  // tokenizer files
    TempDir d;
    write_valid_model(d);
    fs::remove(d.path / "kvlab_chars.json");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("no tokenizer files") && Catch::Contains("tokenizer.json"));
    d.write("kvlab_chars.json", R"(["a","a"])");
    CHECK_THROWS_AS(load_hf_model_dir(d.path), ModelLoadError);
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("kvlab_chars.json") && Catch::Contains("twice"));
    d.write("kvlab_chars.json", R"({"a":0})");
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("JSON array"));
    nlohmann::json many = nlohmann::json::array();
    for (int i = 0; i < 97; ++i) many.push_back(std::string(1, static_cast<char>(i + 20)));
    d.write("kvlab_chars.json", many.dump());
    CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains("97 tokens") && Catch::Contains("vocab_size is 96"));
  }
  {  // NaN and Inf in weights: loads, with a warning the UI shows
    TempDir d;
    write_valid_model(d);
    auto ts = model_tensors(d);
    for (auto& t : ts) {
      if (t.name == "h.0.ln_1.bias") {
        const float bad[2] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()};
        std::memcpy(t.bytes.data(), bad, sizeof bad);
      }
    }
    d.write("model.safetensors", safetensors_bytes(ts));
    const LoadedModel m = load_hf_model_dir(d.path);
    REQUIRE(m.warnings.size() == 1);
    CHECK_THAT(m.warnings[0], Catch::Contains("h.0.ln_1.bias") && Catch::Contains("2 NaN/Inf"));
  }
}

TEST_CASE("a directory with tokenizer.json (and no vocab.json + merges.txt) uses it", "[hf][tokjson]") {
  TempDir d;
  write_valid_model(d, "", 300);
  fs::remove(d.path / "kvlab_chars.json");
  // GPT-2's 256 byte symbols (printable bytes stand for themselves, the rest from U+0100), "ab", a BOS
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0, next = 256; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const int cp = printable ? b : next++;
    std::string sym = cp < 0x80 ? std::string(1, static_cast<char>(cp))
                                : std::string{static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    vocab[sym] = b;
  }
  vocab["ab"] = 256;
  nlohmann::json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}}},
                      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                      {"decoder", {{"type", "ByteLevel"}}},
                      {"added_tokens", {{{"id", 257}, {"content", "<|begin_of_text|>"}, {"special", true}}}}};
  d.write("tokenizer.json", j.dump());
  d.write("tokenizer_config.json", R"({"bos_token": "<|begin_of_text|>", "add_bos_token": true})");
  const LoadedModel m = load_hf_model_dir(d.path);
  CHECK(m.tokenizer->kind() == "tokenizer.json bpe");
  CHECK(m.tokenizer->encode("ab<|begin_of_text|>") == std::vector<int>{256, 257});
  CHECK(m.tokenizer->bos_id() == 257);
  GenerationSession s(m, SessionOptions{});
  s.start_text("ab");
  CHECK(s.tokens() == std::vector<int>{257, 256});  // the session puts the BOS first
  // a broken tokenizer.json is a load failure naming the file
  d.write("tokenizer.json", R"({"model": {"type": "WordPiece"}})");
  CHECK_THROWS_AS(load_hf_model_dir(d.path), ModelLoadError);
  CHECK_THROWS_WITH(load_hf_model_dir(d.path), Catch::Contains((d.path / "tokenizer.json").string()) && Catch::Contains("'WordPiece' is not supported"));
  // vocab.json + merges.txt beside it win (GPT-2 directories ship both)
  d.write("vocab.json", vocab.dump());
  d.write("merges.txt", "#version: 0.2\na b\n");
  CHECK(load_hf_model_dir(d.path).tokenizer->kind() == "gpt2-bpe");
}

TEST_CASE("long loads report progress and can be cancelled", "[hf][load]") {
  std::atomic<float> progress{0.0f};
  std::atomic<bool> cancel{false};
  int reports = 0;
  LoadControl control{&progress, &cancel, [&] { ++reports; }};
  const LoadedModel m = load_model(kInterop + "/hub_f32", &control);
  CHECK(reports == static_cast<int>(m.gpt->weights().tensors().size()));
  CHECK(progress.load() > 0.9f);
  reports = 0;
  (void)load_model("random:tinygpt", &control);
  CHECK(reports > 10);
  cancel.store(true);
  CHECK_THROWS_AS(load_model("random:gpt2", &control), LoadCancelled);
  CHECK_THROWS_WITH(load_model(kInterop + "/hub_f32", &control), Catch::Contains("cancelled"));
}

TEST_CASE("weights are used in place from the mapped file, and rewriting the file leaves a loaded model intact", "[hf][mmap]") {
  TempDir d;
  const LoadedModel original = load_model("random:tinygpt:seed=1");
  save_hf_model_dir(original, d.path, StDtype::F32);
  const LoadedModel m = load_hf_model_dir(d.path);
  const GptWeights& w = m.gpt->weights();
  // every F32 tensor is read straight from the mapping: the model's own allocation is empty
  CHECK(w.mapped_bytes() == w.bytes());
  for (const TensorInfo& t : w.tensors()) CHECK(t.external != nullptr);
  const std::vector<int> prompt{5, 17, 33};
  const RowMatrix before = forward_all_positions(*m.gpt, prompt);
  CHECK((before - forward_all_positions(*original.gpt, prompt)).cwiseAbs().maxCoeff() == 0.0f);
  // another model saved over the same directory: the loaded one keeps its (old) file
  save_hf_model_dir(load_model("random:tinygpt:seed=2"), d.path, StDtype::F32, true);
  CHECK((before - forward_all_positions(*m.gpt, prompt)).cwiseAbs().maxCoeff() == 0.0f);
  CHECK((before - forward_all_positions(*load_hf_model_dir(d.path).gpt, prompt)).cwiseAbs().maxCoeff() > 0.0f);
  // and without overwrite permission the writer refuses
  CHECK_THROWS_WITH(save_hf_model_dir(original, d.path, StDtype::F32), Catch::Contains("already holds"));

  // F16 file: the matrices are used in place (F16), the small vectors are converted to F32
  TempDir d16;
  save_hf_model_dir(original, d16.path, StDtype::F16);
  const LoadedModel h = load_hf_model_dir(d16.path);
  CHECK(h.gpt->weights().matrix_dtype() == WeightDtype::F16);
  for (const TensorInfo& t : h.gpt->weights().tensors()) CHECK((t.external != nullptr) == (t.dtype == WeightDtype::F16));
  CHECK((before - forward_all_positions(*h.gpt, prompt)).cwiseAbs().maxCoeff() < 1e-2);
}
