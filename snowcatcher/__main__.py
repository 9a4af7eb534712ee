"""`python -m snowcatcher` runs the command line."""

from snowcatcher.cli import main

raise SystemExit(main())
