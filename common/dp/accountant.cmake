# The Renyi-DP accountant: Gaussian and DDG curves, (epsilon, delta)
# conversion, round design.
target_sources(frcommon PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/accountant.c)
