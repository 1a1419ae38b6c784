// Typed errors the engine throws. Every message is written for a student reading it on screen:
// it names what was wrong and what the limit is. The engine never calls exit() or prints.
#pragma once
#include <stdexcept>
#include <string>

namespace kvlab {

struct KvlabError : std::runtime_error { using std::runtime_error::runtime_error; };
struct ConfigError : KvlabError { using KvlabError::KvlabError; };         // impossible model shape
struct InputError : KvlabError { using KvlabError::KvlabError; };          // prompt, flags, sampling
struct TokenizerError : KvlabError { using KvlabError::KvlabError; };      // text the vocabulary lacks
struct ModelLoadError : KvlabError { using KvlabError::KvlabError; };      // model spec / files
struct LoadCancelled : KvlabError { using KvlabError::KvlabError; };      // the user stopped a load
struct ContextFullError : KvlabError { using KvlabError::KvlabError; };    // no position left
struct CacheError : KvlabError { using KvlabError::KvlabError; };          // base of KV-cache errors
struct CacheLayerIndexError : CacheError { using CacheError::CacheError; };
struct CacheFullError : CacheError { using CacheError::CacheError; };
struct CacheShapeError : CacheError { using CacheError::CacheError; };
struct CacheInvariantError : CacheError { using CacheError::CacheError; };  // e.g. advance() too early

}  // namespace kvlab
