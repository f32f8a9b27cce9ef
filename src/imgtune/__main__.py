"""``python -m imgtune``: the command line."""

from imgtune.cli import main

raise SystemExit(main())
