# The aggregator's HTTP endpoint (/metrics, /healthz, status page), built
# into fragg. The version shown in fedrec_info comes from project().
target_sources(fragg PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/http.c
  ${CMAKE_CURRENT_SOURCE_DIR}/render.c
  ${CMAKE_CURRENT_SOURCE_DIR}/render_regions.c)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/render.c PROPERTIES
  COMPILE_DEFINITIONS AGG_VERSION="${PROJECT_VERSION}")
