# Regions: central and regional aggregators with their stores
# (docs/SECAGG.md "Regions"). regions.c builds the federation.
set(FR_REGION_SRC proc.c regions.c ${PROJECT_SOURCE_DIR}/server/checkpoint.c
  ${PROJECT_SOURCE_DIR}/bench/sim_update.c)
foreach(t regions region_drop region_dp)
  fr_add_test(test_${t} SOURCES test_${t}.c ${FR_REGION_SRC}
    LABEL integration TIMEOUT 300)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/server
    ${PROJECT_SOURCE_DIR}/bench)
  add_dependencies(test_${t} fedrec-aggregator fedrec-client fedrec-keygen
    fedrec-datagen fedrec-simstores fedrec-ctl)
endforeach()
