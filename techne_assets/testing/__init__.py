"""Test doubles that run real protocols (importable by tests and benchmarks alike)."""
