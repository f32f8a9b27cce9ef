"""Where sub-commands are registered: importing this module registers them all.

Each command module registers itself with :func:`imgtune.cli.command`; the
heavy ones import JAX only inside their functions, so ``imgtune --help`` and
``imgtune validate`` stay fast.
"""

import imgtune.cli  # noqa: F401  (validate)
