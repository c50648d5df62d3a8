"""Acceptance tests: the seed notes' worked examples (a package, so that test module
names such as test_examples.py may repeat in other test folders)."""
