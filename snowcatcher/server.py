"""The first name of snowcatcher.runtime, kept while callers move (removed with the file moves)."""

from snowcatcher.runtime import (
    DEFAULT_IDLE_TIMEOUT,
    LINGERING_TIME,
    STARTUP_ERRORS,
    Settings,
    Snowcatcher,
    StartupError,
    default_cache_dir,
)

__all__ = ["DEFAULT_IDLE_TIMEOUT", "LINGERING_TIME", "STARTUP_ERRORS", "Settings", "Snowcatcher",
           "StartupError", "default_cache_dir"]
