"""Tests of the core engine, gates and gradient checking (a package, so that test module
names may repeat in other test folders)."""
