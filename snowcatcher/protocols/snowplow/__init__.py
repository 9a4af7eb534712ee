"""Snowplow: the tracker protocol (tp2 POSTs, GET pixels)."""
