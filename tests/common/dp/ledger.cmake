# The ledger, and the DDG from round design to decoded sum.
fr_add_test(test_ledger SOURCES test_ledger.c)
fr_add_test(test_dp_sum SOURCES test_dp_sum.c)
