# Noise for the DDG mechanism: the deterministic CSPRNG, the exact
# discrete-Gaussian sampler (Canonne-Kamath-Steinke), the randomized
# Hadamard rotation, and one store's DDG encode/decode. Its ChaCha20
# keystream, BLAKE2b, guarded memory and wiping come from common/crypto
# (prim.h, crypto.h); nothing here includes libsodium.
include_guard(GLOBAL)
target_sources(frcommon PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/rng.c
  ${CMAKE_CURRENT_LIST_DIR}/dgauss.c
  ${CMAKE_CURRENT_LIST_DIR}/rotate.c
  ${CMAKE_CURRENT_LIST_DIR}/ddg.c)
