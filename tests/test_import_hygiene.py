"""Nothing outside snowcatcher/tui imports Textual: the core stays usable headless and in tests."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import snowcatcher
from tests.conftest import ROOT


def core_modules() -> list[str]:
    return [module.name for module in pkgutil.walk_packages(snowcatcher.__path__, "snowcatcher.")
            if not module.name.startswith("snowcatcher.tui") and module.name != "snowcatcher.__main__"]


def test_core_modules_do_not_import_textual() -> None:
    modules = core_modules()
    assert "snowcatcher.capture.collector" in modules and "snowcatcher.cli" in modules
    code = ("import sys\n" + "".join(f"import {name}\n" for name in modules)
            + "print([m for m in sys.modules if m == 'textual' or m.startswith('textual.')])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_the_layer_contracts_hold() -> None:
    """pyproject.toml's import-linter contracts: Textual only in tui, protocols apart from the store
    and the front ends, the store apart from the protocols, the read APIs apart from the collector."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_collector_listens_before_the_validators_are_imported() -> None:
    """Start-up time: jsonschema, referencing, the pattern engines and PyYAML come with the first
    event or schema file, not before the port answers (they are a fifth of the start-up)."""
    heavy = ["fastjsonschema", "jsonschema", "jsonschema_rs", "re2", "referencing", "regex", "yaml"]
    code = ("import asyncio, sys\n"
            "from snowcatcher.runtime import Settings, Snowcatcher\n"
            "async def main():\n"
            "    catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None))\n"
            "    await catcher.start()\n"
            f"    print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
            "    await catcher.stop()\n"
            "asyncio.run(main())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    assert result.stdout.strip() == "[]", result.stdout
