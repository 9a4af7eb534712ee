"""Which GitLab checkout to read: `--gitlab PATH`, else a GDK found from GDK_ROOT or the current folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from snowcatcher.gitlab.definitions import Definitions, check_checkout

#: Files a GDK root folder holds beside its `gitlab/` checkout.
GDK_MARKERS = ("gdk.yml", "gdk.example.yml", "Procfile")
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Checkout:
    path: Path
    #: How it was found, for the start-up line: `--gitlab`, `GDK_ROOT`, or `the GDK around <cwd>`.
    found_by: str


def find_checkout(given: Path | None, environ: Mapping[str, str], cwd: Path) -> Checkout | None:
    """The checkout to use, or None; raises NotAGitLabCheckout for a --gitlab path without definitions."""
    if given is not None:
        return Checkout(check_checkout(given.expanduser()), "--gitlab")
    root = environ.get("GDK_ROOT")
    if root and _is_gdk(Path(root).expanduser()):
        return Checkout(Path(root).expanduser() / "gitlab", "GDK_ROOT")
    for folder in (cwd, *cwd.parents):
        if _is_gdk(folder):
            return Checkout(folder / "gitlab", f"the GDK at {folder}")
    return None


def _is_gdk(folder: Path) -> bool:
    return (folder / "gitlab/config/events").is_dir() and any(
        (folder / marker).is_file() for marker in GDK_MARKERS)


def describe(definitions: Definitions) -> list[str]:
    """The start-up lines: what was loaded, and the files GitLab would refuse."""
    internal = len(definitions.internal_names())
    lines = [f"GitLab definitions in {definitions.root}: {internal} internal events, "
             f"{len(definitions.metrics)} metrics"]
    problems = definitions.problems
    if problems:
        lines.append(f"{len(problems)} problem(s) in definition files (they are still used):")
        lines += [f"  {problem}" for problem in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"  ... and {len(problems) - MAX_LISTED} more")
    return lines
