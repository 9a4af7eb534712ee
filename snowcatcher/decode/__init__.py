"""Decoders, one module per protocol."""
