"""Offline implementations of the capabilities: the embedded default backend."""
