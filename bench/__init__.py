"""Benchmarks, each runnable with one command (see README)."""
