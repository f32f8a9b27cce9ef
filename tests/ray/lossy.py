"""Trial functions for the Ray tests: tests/runner/synthetic.py's, and one whose Ray actor is lost once.

``lose_actor_once``: a trial of ``LOSE_MODEL`` kills its parent, the Ray actor that runs it (as a lost
node or an out-of-memory kill would), the first time it runs, after one epoch; then it trains as
``synthetic.trial`` does, resuming from its checkpoint.
"""

import os
import signal


def lose_actor_once(context):
    from synthetic import trial  # tests/runner, on the path of the tests' drivers

    marker = context.workdir / "lost-once"
    if context.trial.parameters.model_name == os.environ.get("LOSE_MODEL") and not marker.exists():
        context.report({"epoch": 1, context.primary_metric: 0.0, "loss": 1.0})
        marker.write_text("lost")
        os.kill(os.getppid(), signal.SIGKILL)
        signal.pause()
    return trial(context)
