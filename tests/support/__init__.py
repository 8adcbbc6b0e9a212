"""Test support shared by the tests and the benchmarks: the platform emulators and their run config."""
