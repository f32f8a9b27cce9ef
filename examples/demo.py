"""The main job on the bundled example: `make demo`.

Today it validates the example job and prints it with its resolved form; the
later stages (compile, train, run) extend this script as they land.
"""

from __future__ import annotations

import sys
from pathlib import Path

import imgtune

HERE = Path(__file__).resolve().parent


def main() -> int:
    job_file = HERE / "digits" / "job.yaml"
    job = imgtune.load(job_file)
    print(f"# {job_file.relative_to(HERE.parent)}: a valid {type(job).__name__}")
    print(f"# {len(job.search_space)} subspace(s), up to {job.limits.max_trials} trials, "
          f"{job.limits.max_concurrent_trials} at a time, primary metric {job.primary_metric.value}")
    print(imgtune.dumps(job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
