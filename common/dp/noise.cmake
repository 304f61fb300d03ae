# Noise for the DDG mechanism: the deterministic CSPRNG, the exact
# discrete-Gaussian sampler (Canonne-Kamath-Steinke), the randomized
# Hadamard rotation, and one store's DDG encode/decode. Uses libsodium
# directly (ChaCha20 keystream, BLAKE2b, sodium_malloc, memzero).
include_guard(GLOBAL)
target_sources(frcommon PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/rng.c
  ${CMAKE_CURRENT_LIST_DIR}/dgauss.c
  ${CMAKE_CURRENT_LIST_DIR}/rotate.c
  ${CMAKE_CURRENT_LIST_DIR}/ddg.c)
