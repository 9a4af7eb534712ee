"""The Textual terminal UI: a live, virtualized event list and a detail pane (the only Textual importer)."""

import os

# A lone Esc byte is a key only once no escape sequence follows within ESCDELAY milliseconds, and
# Textual's input thread looks again only every 100 ms: its default of 100 made Esc (back, clear
# the filter) take 200 ms through a real terminal. 50 is what Neovim waits (ttimeoutlen); a user's
# own ESCDELAY is kept. Set before Textual is imported: it reads the variable then.
os.environ.setdefault("ESCDELAY", "50")
