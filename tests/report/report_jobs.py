"""The jobs of the report tests (a module of its own: ``conftest`` is not importable by name in the full suite)."""

import json

import imgtune

#: A job name and description that try to break out of the page.
HOSTILE_NAME = '<script>alert("name")</script> & \'sweep\''
HOSTILE_DESCRIPTION = ('</pre></section><img src="https://evil.example/x.png" onerror="alert(1)">'
                       '<style>@import url(http://evil.example/a.css);</style>')


def sweep_job(*, task="image_classification", trials=8, concurrent=2, epochs=5, policy=True, extra=""):
    """A random sweep over learning rate and model; with ``policy`` a bandit that stops the poor trials."""
    early = ", early_termination: {type: bandit, slack_factor: 0.1, delay_evaluation: 2}" if policy else ""
    return imgtune.loads(f"""
type: automl
task: {task}
display_name: {json.dumps(HOSTILE_NAME)}
description: {json.dumps(HOSTILE_DESCRIPTION)}
target_column_name: label
training_data: {{path: data}}
limits: {{max_trials: {trials}, max_concurrent_trials: {concurrent}}}
training_parameters: {{number_of_epochs: {epochs}}}
sweep: {{sampling_algorithm: {{type: random, seed: 3}}{early}}}
search_space:
  - learning_rate: {{type: loguniform, min_value: -9, max_value: -1}}
    model_name: {{type: choice, values: [resnet18, resnet34, mobilenetv2]}}
{extra}""")
