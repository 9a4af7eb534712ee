"""snowcatcher: a local debugging collector for Snowplow and Wikimedia analytics events."""

__version__ = "0.1.0"
