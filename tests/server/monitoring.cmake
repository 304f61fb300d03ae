# The HTTP endpoint's renderers and server (server/render.c, server/http.c).
fr_add_test(test_render SOURCES test_render.c LIBS fragg m LABEL unit
  TIMEOUT 60)
fr_add_test(test_http SOURCES test_http.c LIBS fragg LABEL unit TIMEOUT 60)
