# The accountant against tests/vectors/dp/, and fedrec-ctl privacy.
fr_add_test(test_accountant SOURCES test_accountant.c)
add_dependencies(test_accountant fedrec-ctl)
