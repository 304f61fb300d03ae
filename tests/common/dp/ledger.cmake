fr_add_test(test_ledger SOURCES test_ledger.c)
