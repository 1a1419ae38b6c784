// Hugging Face tokenizer.json (the tokenizers library's format) read into Gpt2BpeTokenizer's tables:
// a BPE model (vocab, merges as "a b" or ["a","b"], ignore_merges), the ByteLevel pre-tokenizer alone
// or after a Split with the GPT-2 / Llama-3 / Qwen2 pattern or a Digits step, normalizer none or NFC,
// the ByteLevel decoder, added tokens, and the BOS token from tokenizer_config.json. Everything else
// (WordPiece, Unigram, byte_fallback BPE, Metaspace, other patterns) is refused by name. No regex engine.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "errors.hpp"
#include "text/bpe_impl.hpp"
#include "text/bpe_tokenizer.hpp"

namespace kvlab {

namespace {

using nlohmann::json;
using bpe_detail::json_quoted;
using bpe_detail::SplitPattern;

// The patterns exactly as the tokenizers library stores them (after JSON unescaping).
constexpr std::string_view kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kWhatIsSupported = "kvlab reads byte-level BPE tokenizers (GPT-2, Llama-3, Qwen2, SmolLM2)";

// The member `key` of an object, or nullptr when it is absent or JSON null (the library writes both).
const json* field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// A boolean member, `fallback` when absent; anything but true/false is an error naming it.
bool flag(const json& obj, const char* key, bool fallback, const std::string& where) {
  const json* v = field(obj, key);
  if (!v) return fallback;
  if (!v->is_boolean()) throw TokenizerError(where + "." + key + " must be true or false");
  return v->get<bool>();
}

// A component's "type" (pre_tokenizer, normalizer, decoder, model): a string, or an error naming `where`.
std::string type_of(const json& component, const std::string& where) {
  if (!component.is_object()) throw TokenizerError(where + " must be a JSON object");
  const json* t = field(component, "type");
  if (!t || !t->is_string()) throw TokenizerError(where + " has no \"type\" string");
  return t->get<std::string>();
}

json parse_object(std::string_view text, const std::string& name) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) throw TokenizerError(name + " is empty");
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    // nlohmann refuses invalid UTF-8 inside strings here too ("ill-formed UTF-8 byte")
    throw TokenizerError(name + " is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw TokenizerError(name + " must be a JSON object");
  return j;
}

// model: type BPE, the options that change what BPE means refused by name, then vocab and merges.
void read_model(const json& root, const std::string& name, Gpt2BpeTokenizer::Impl& impl) {
  const json* model = field(root, "model");
  if (!model || !model->is_object()) throw TokenizerError(name + " has no \"model\" object");
  const std::string where = name + " model";
  if (const json* t = field(*model, "type")) {  // old files leave it out; theirs is BPE
    if (!t->is_string()) throw TokenizerError(where + ".type must be a string such as \"BPE\"");
    if (t->get<std::string>() != "BPE")
      throw TokenizerError(where + " type '" + t->get<std::string>() + "' is not supported: " + kWhatIsSupported);
  }
  if (flag(*model, "byte_fallback", false, where))
    throw TokenizerError(where + ".byte_fallback is true: SentencePiece-style BPE with byte fallback (Llama-2, Mistral) is not "
                         "supported; " + kWhatIsSupported);
  if (const json* d = field(*model, "dropout"); d && !(d->is_number() && d->get<double>() == 0.0))
    throw TokenizerError(where + ".dropout is set: BPE dropout (random merges, for training) is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json* v = field(*model, key); v && !(v->is_string() && v->get<std::string>().empty()))
      throw TokenizerError(where + "." + key + " is set: word-piece style BPE is not supported; " + kWhatIsSupported);
  impl.ignore_merges = flag(*model, "ignore_merges", false, where);

  const json* vocab = field(*model, "vocab");
  if (!vocab) throw TokenizerError(where + ".vocab is missing");
  if (!vocab->is_object() || vocab->empty())
    throw TokenizerError(where + ".vocab must be a non-empty JSON object mapping each token to its id");
  impl.load_vocab(*vocab, where + ".vocab");

  const json* merges = field(*model, "merges");
  if (!merges) throw TokenizerError(where + ".merges is missing");
  if (!merges->is_array()) throw TokenizerError(where + ".merges must be a JSON array");
  impl.merges.reserve(merges->size());
  int rank = 0;
  for (const json& m : *merges) {
    const std::string at = where + ".merges[" + std::to_string(rank) + "]";
    std::string a, b;
    if (m.is_string()) {  // "a b": the older form; symbols cannot hold a space
      const std::string& s = m.get_ref<const std::string&>();
      const auto space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
        throw TokenizerError(at + ": expected two symbols separated by one space, found " + json_quoted(s));
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["a", "b"]
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw TokenizerError(at + ": expected \"a b\" or [\"a\", \"b\"], found " + m.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    const std::string problem = impl.add_merge(a, b, rank++);
    if (!problem.empty()) throw TokenizerError(at + ": " + problem);
  }
}

SplitPattern recognise_split(const json& split, const std::string& where) {
  const json* pattern = field(split, "pattern");
  const json* regex = pattern ? field(*pattern, "Regex") : nullptr;
  if (!regex || !regex->is_string())
    throw TokenizerError(where + ".pattern must be {\"Regex\": \"...\"} (splitting on a plain string is not supported)");
  const std::string& p = regex->get_ref<const std::string&>();
  const json* behavior = field(split, "behavior");
  if (behavior && !(behavior->is_string() && behavior->get<std::string>() == "Isolated"))
    throw TokenizerError(where + ".behavior " + behavior->dump() + " is not supported; supported: \"Isolated\"");
  if (flag(split, "invert", false, where)) throw TokenizerError(where + ".invert true is not supported");
  if (p == kGpt2Pattern) return SplitPattern::Gpt2;
  if (p == kLlama3Pattern) return SplitPattern::Llama3;
  if (p == kQwen2Pattern) return SplitPattern::Qwen2;
  std::string shown = json_quoted(p);
  if (shown.size() > 120) shown = shown.substr(0, 117) + "...";
  throw TokenizerError(where + ": tokenizer.json's pre-tokenizer Split pattern " + shown +
                       " is not supported; supported: GPT-2, Llama-3, Qwen2 (kvlab has no regex engine, it recognises these patterns)");
}

// ByteLevel; Sequence [Split(pattern), ByteLevel(use_regex false)]; Sequence [Digits(individual),
// ByteLevel(use_regex true)]; a Sequence holding only ByteLevel is ByteLevel.
void read_pre_tokenizer(const json& root, const std::string& name, Gpt2BpeTokenizer::Impl& impl) {
  const json* pre = field(root, "pre_tokenizer");
  const std::string where = name + " pre_tokenizer";
  if (!pre) throw TokenizerError(name + " has no pre_tokenizer: a byte-level BPE needs ByteLevel");
  std::vector<const json*> steps{pre};
  if (type_of(*pre, where) == "Sequence") {
    const json* list = field(*pre, "pretokenizers");
    if (!list || !list->is_array() || list->empty() || list->size() > 2)
      throw TokenizerError(where + " Sequence must list one or two pre-tokenizers (Split or Digits, then ByteLevel)");
    steps.clear();
    for (const json& s : *list) steps.push_back(&s);
  }
  const bool sequence = steps.size() > 1 || steps.front() != pre;
  std::string first_kind;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const std::string at = sequence ? where + ".pretokenizers[" + std::to_string(k) + "]" : where;
    const std::string type = type_of(*steps[k], at);
    const bool last = k + 1 == steps.size();
    if (type == "ByteLevel" && last) {
      const bool use_regex = flag(*steps[k], "use_regex", true, at);
      impl.add_prefix_space = flag(*steps[k], "add_prefix_space", true, at);  // the library's default
      if (steps.size() > 1 && impl.add_prefix_space)
        throw TokenizerError(at + ".add_prefix_space true after another pre-tokenizer is not supported (it adds a space to every piece)");
      if (first_kind == "Split" && use_regex)
        throw TokenizerError(at + ".use_regex must be false after a Split (the Split already cut the text into pieces)");
      if (first_kind != "Split" && !use_regex)
        throw TokenizerError(at + ".use_regex false needs a Split before it: nothing would cut the text into pieces");
    } else if (type == "Split" && !last) {
      first_kind = type;
      impl.pattern = recognise_split(*steps[k], at);
    } else if (type == "Digits" && !last) {
      first_kind = type;
      if (!flag(*steps[k], "individual_digits", false, at))
        throw TokenizerError(at + ".individual_digits false is not supported (only one digit a piece, as in SmolLM2)");
      impl.digits_first = true;
    } else if (type == "Metaspace") {
      throw TokenizerError(at + " Metaspace (SentencePiece-style, as in Llama-2 and T5) is not supported; " + kWhatIsSupported);
    } else {
      throw TokenizerError(at + " '" + type + "' is not supported here; supported: ByteLevel, or a Sequence of Split (GPT-2, "
                           "Llama-3 or Qwen2 pattern) or Digits, then ByteLevel");
    }
  }
}

void read_normalizer_and_decoder(const json& root, const std::string& name, Gpt2BpeTokenizer::Impl& impl) {
  if (const json* n = field(root, "normalizer")) {
    std::vector<const json*> steps{n};
    if (type_of(*n, name + " normalizer") == "Sequence") {
      const json* list = field(*n, "normalizers");
      if (!list || !list->is_array()) throw TokenizerError(name + " normalizer Sequence must list its normalizers");
      steps.clear();
      for (const json& s : *list) steps.push_back(&s);
    }
    for (const json* s : steps) {
      const std::string type = type_of(*s, name + " normalizer");
      if (type != "NFC") throw TokenizerError(name + " normalizer '" + type + "' is not supported; supported: none or NFC");
      impl.nfc = true;
    }
  }
  const json* d = field(root, "decoder");
  if (!d) throw TokenizerError(name + " has no decoder: a byte-level BPE needs the ByteLevel decoder");
  const std::string type = type_of(*d, name + " decoder");
  if (type != "ByteLevel") throw TokenizerError(name + " decoder '" + type + "' is not supported; supported: ByteLevel");
}

// added_tokens: matched whole in the text before pre-tokenization; they keep their ids and decode as
// their content. An id may extend the vocabulary (Llama-3's specials follow model.vocab) but not
// leave a gap wider than the list, so a tiny file cannot make the tables huge.
void read_added_tokens(const json& root, const std::string& name, Gpt2BpeTokenizer::Impl& impl) {
  const json* list = field(root, "added_tokens");
  if (!list) return;
  if (!list->is_array()) throw TokenizerError(name + " added_tokens must be a JSON array");
  const std::int64_t limit = static_cast<std::int64_t>(impl.vocab_size) + static_cast<std::int64_t>(list->size());
  std::unordered_map<int, std::size_t> seen_id;
  std::unordered_map<std::string, int> seen_content;
  for (std::size_t k = 0; k < list->size(); ++k) {
    const json& t = (*list)[k];
    const std::string at = name + " added_tokens[" + std::to_string(k) + "]";
    const json* content = field(t, "content");
    const json* idj = field(t, "id");
    if (!content || !content->is_string() || content->get_ref<const std::string&>().empty())
      throw TokenizerError(at + " needs a non-empty \"content\" string");
    const std::string& text = content->get_ref<const std::string&>();
    if (!idj || !idj->is_number_integer() || idj->get<std::int64_t>() < 0 || idj->get<std::int64_t>() >= limit ||
        (idj->is_number_unsigned() && idj->get<std::uint64_t>() >= static_cast<std::uint64_t>(limit)))
      throw TokenizerError(at + " (" + json_quoted(text) + "): the id must be a whole number from 0 to " + std::to_string(limit - 1) +
                           " (the vocabulary's size plus the number of added tokens)");
    for (const char* key : {"lstrip", "rstrip", "single_word"})
      if (flag(t, key, false, at)) throw TokenizerError(at + " (" + json_quoted(text) + ") sets " + key + ", which kvlab does not support");
    const int id = static_cast<int>(idj->get<std::int64_t>());
    if (const auto it = seen_id.find(id); it != seen_id.end())
      throw TokenizerError(at + ": id " + std::to_string(id) + " is also added_tokens[" + std::to_string(it->second) + "]");
    if (const auto it = seen_content.find(text); it != seen_content.end())
      throw TokenizerError(at + ": " + json_quoted(text) + " is added twice, with ids " + std::to_string(it->second) + " and " + std::to_string(id));
    seen_id.emplace(id, k);
    seen_content.emplace(text, id);
    if (id < impl.vocab_size && impl.present[static_cast<std::size_t>(id)] && impl.bytes_of[static_cast<std::size_t>(id)] != text)
      throw TokenizerError(at + ": " + json_quoted(text) + " has id " + std::to_string(id) + ", which model.vocab gives to " +
                           json_quoted(impl.bytes_of[static_cast<std::size_t>(id)]));
    if (id >= impl.vocab_size) {
      impl.vocab_size = id + 1;
      impl.present.resize(static_cast<std::size_t>(impl.vocab_size), false);
      impl.bytes_of.resize(static_cast<std::size_t>(impl.vocab_size));
    }
    impl.present[static_cast<std::size_t>(id)] = true;
    impl.bytes_of[static_cast<std::size_t>(id)] = text;
    impl.added.push_back({text, id});
  }
  impl.index_added_tokens();
}

// The token a TemplateProcessing post-processor puts first for one sequence (Llama-3's
// <|begin_of_text|>), or "": the BOS when there is no tokenizer_config.json to say so.
std::string template_bos(const json& root) {
  const json* post = field(root, "post_processor");
  std::vector<const json*> steps;
  if (post && post->is_object()) {
    steps.push_back(post);
    if (const json* list = field(*post, "processors"); list && list->is_array())
      for (const json& s : *list) steps.push_back(&s);
  }
  for (const json* s : steps) {
    const json* type = field(*s, "type");
    const json* single = field(*s, "single");
    if (!type || *type != "TemplateProcessing" || !single || !single->is_array() || single->empty()) continue;
    const json* special = field((*single)[0], "SpecialToken");
    const json* id = special ? field(*special, "id") : nullptr;
    if (id && id->is_string()) return id->get<std::string>();
  }
  return "";
}

int token_id(const Gpt2BpeTokenizer::Impl& impl, const std::string& text) {
  for (const auto& t : impl.added)
    if (t.content == text) return t.id;
  const auto it = impl.id_of.find(text);
  return it == impl.id_of.end() ? -1 : it->second;
}

// tokenizer_config.json: bos_token ("<s>" or {"content": "<s>"}) and add_bos_token; without the
// flag, the BOS is added when the post-processor's template starts with it.
void read_bos(const json& root, std::string_view config_text, const std::string& config_name, Gpt2BpeTokenizer::Impl& impl) {
  const std::string from_template = template_bos(root);
  std::string bos = from_template;
  bool add = !from_template.empty();
  if (!config_text.empty()) {
    const json config = parse_object(config_text, config_name);
    bos.clear();
    if (const json* b = field(config, "bos_token")) {
      const json* content = b->is_object() ? field(*b, "content") : b;
      if (!content || !content->is_string())
        throw TokenizerError(config_name + ": bos_token must be a string or {\"content\": \"...\"}");
      bos = content->get<std::string>();
    }
    add = flag(config, "add_bos_token", !bos.empty() && bos == from_template, config_name);
  }
  if (bos.empty() || !add) return;
  impl.bos = token_id(impl, bos);
  if (impl.bos < 0) throw TokenizerError(config_name + ": the BOS token " + json_quoted(bos) + " is not a token of tokenizer.json");
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw TokenizerError(p.string() + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::unique_ptr<Gpt2BpeTokenizer::Impl> load(std::string_view text, std::string_view config_text, const std::string& name,
                                             const std::string& config_name) {
  const json root = parse_object(text, name);
  auto impl = std::make_unique<Gpt2BpeTokenizer::Impl>();
  impl->kind = "tokenizer.json bpe";
  impl->merge_at_once = true;  // the tokenizers library's merge order
  read_model(root, name, *impl);
  read_pre_tokenizer(root, name, *impl);
  read_normalizer_and_decoder(root, name, *impl);
  read_added_tokens(root, name, *impl);
  read_bos(root, config_text, config_name, *impl);
  return impl;
}

}  // namespace

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_tokenizer_json(const std::filesystem::path& tokenizer_json) {
  const std::string text = read_file(tokenizer_json);
  const auto config_path = tokenizer_json.parent_path() / "tokenizer_config.json";
  std::error_code ec;  // a permission problem reads as "no tokenizer_config.json"
  std::string config;
  if (std::filesystem::is_regular_file(config_path, ec)) {
    config = read_file(config_path);
    if (config.empty()) throw TokenizerError(config_path.string() + " is empty");
  }
  return from_impl(load(text, config, tokenizer_json.string(), config_path.string()));
}

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_tokenizer_json_strings(std::string_view tokenizer_json,
                                                                                      std::string_view config_json,
                                                                                      std::string_view origin) {
  const std::string where(origin);
  return from_impl(load(tokenizer_json, config_json, where + "/tokenizer.json", where + "/tokenizer_config.json"));
}

}  // namespace kvlab
