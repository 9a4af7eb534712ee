"""What the TUI remembers between runs (theme, GitLab columns, split, last filter) in the config folder."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass
class Preferences:
    """The TUI's remembered choices; anything missing or unreadable falls back to these defaults."""

    theme: str = ""
    gitlab_columns: bool = False
    #: The list's share of the list/detail split, in tenths.
    list_share: int = 5
    last_filter: str = ""


def config_path() -> Path:
    """`$XDG_CONFIG_HOME/snowcatcher/tui.json`, `~/.config/snowcatcher/tui.json` without it."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "snowcatcher" / "tui.json"


def load(path: Path | None = None) -> Preferences:
    """The remembered preferences; a missing, unreadable or hand-broken file gives the defaults
    (a preference is never worth refusing to start)."""
    try:
        stored = json.loads((path or config_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Preferences()
    defaults = Preferences()
    if not isinstance(stored, dict):
        return defaults
    kept: dict[str, object] = {}
    for field in fields(Preferences):
        value = stored.get(field.name)
        default = getattr(defaults, field.name)
        if type(value) is type(default):  # a wrong type (a hand edit) keeps the default
            kept[field.name] = value
    preferences = Preferences(**kept)  # type: ignore[arg-type]
    preferences.list_share = max(1, min(9, preferences.list_share))
    return preferences


def save(preferences: Preferences, path: Path | None = None) -> None:
    """Remember `preferences`; a config folder that cannot be written is not an error worth
    stopping a quit for."""
    target = path or config_path()
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(preferences), indent=2) + "\n", encoding="utf-8")
        temporary.replace(target)
