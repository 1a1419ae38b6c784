// kernels.cpp once more with KVLAB_SCALAR_KERNELS: its scalar fallback in namespace kvlab::scalar
// (kernels_scalar.hpp), so the unit tests exercise it on machines that have a vector unit too.
// Including the .cpp (not copying it) keeps one source for both.
#define KVLAB_SCALAR_KERNELS 1
#include "kernels/kernels_scalar.hpp"
#include "kernels.cpp"  // NOLINT(bugprone-suspicious-include)
