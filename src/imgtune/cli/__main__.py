"""``python -m imgtune.cli``: the command line."""

from imgtune.cli import main

raise SystemExit(main())
