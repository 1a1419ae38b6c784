// Checks of input shared by the engine's entry points (the session, the forward passes, the cache),
// so one mistake gets one message wherever it is caught. Only checks and messages; no state.
#pragma once
#include <span>
#include <string>

namespace kvlab {

// Throws InputError naming the first id outside [0, vocab_size) and the valid range.
void check_token_ids(std::span<const int> ids, int vocab_size);

// The one "context full" message: `capacity` positions, `used` already taken, `more` asked for.
// "the context is full: this model sees at most 8 tokens, and all of them are used. Reset ..."
std::string context_full_message(int capacity, int used, int more);

}  // namespace kvlab
