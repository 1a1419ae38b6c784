// The shared input checks and their messages (checks.hpp).
#include "checks.hpp"

#include "errors.hpp"

namespace kvlab {

void check_token_ids(std::span<const int> ids, int vocab_size) {
  for (int id : ids)
    if (id < 0 || id >= vocab_size)
      throw InputError("token id " + std::to_string(id) + " is outside the vocabulary (0 to " +
                       std::to_string(vocab_size - 1) + ")");
}

std::string context_full_message(int capacity, int used, int more) {
  const std::string head = "the context is full: this model sees at most " + std::to_string(capacity) + " tokens";
  const std::string tail = ". Reset to start a new text.";
  if (used >= capacity) return head + ", and all of them are used" + tail;
  return head + ", " + std::to_string(used) + (used == 1 ? " is" : " are") + " used and " + std::to_string(more) +
         " more do not fit" + tail;
}

}  // namespace kvlab
