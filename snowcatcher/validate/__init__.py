"""Validation: schema sources (Iglu, Wikimedia), validators, work bounds and re-validation."""
