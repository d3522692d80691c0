"""Benchmarks run by ``make bench``; each module is ``python -m bench.<name>``.

They create and seed databases of their own (never ``db.sqlite3`` nor the test
databases) and print one JSON line per measured case.
"""
