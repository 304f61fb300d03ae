# The admin socket: commands, answers, errors, mode and stale sockets.
fr_add_test(test_admin SOURCES test_admin.c LABEL unit TIMEOUT 60 LIBS fragg)
