"""Test doubles (local fakes of outside services) for tests and benchmarks; nothing on a request path imports this package."""
