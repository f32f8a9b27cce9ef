"""The one table of constrained fields: type, range, default and meaning.

Every record field that has a documented type or range declares a
:class:`FieldSpec` here; the records validate with it, the YAML converter
normalises with it, :mod:`imgtune.strategies` generates from it, the property
tests derive their in-range and out-of-range cases from it, and
``docs/training-parameters.md`` is generated from it. A new field added here is
therefore checked, generated, tested and documented at once.

Example:
    >>> spec = TRAINING_PARAMETERS["learning_rate"]
    >>> spec.check(0.01) is None
    True
    >>> spec.check(5.0)
    'must be in [0, 1], got 5.0'
    >>> TRAINING_PARAMETERS["number_of_epochs"].check(2.5)
    'must be an integer, got 2.5'
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs

from imgtune.errors import closest
from imgtune.spec.checks import fmt, is_int, is_number
from imgtune.spec.enums import AzureEnum, LearningRateScheduler, Optimizer
from imgtune.spec.models import DEFAULT_MODEL, HUB_ARCHITECTURES, MODEL_NAMES, custom_model_problem, model_spec

__all__ = [
    "ADVANCED_SETTINGS",
    "LIMITS",
    "MAX_BATCH",
    "MAX_CROP",
    "MAX_EPOCHS",
    "FieldSpec",
    "Kind",
    "SEARCHABLE",
    "TRAINING_PARAMETERS",
    "UNRESOLVED",
    "near_known_setting",
]

class Kind(enum.Enum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STR = "str"
    ENUM = "enum"
    JSON = "json"


@attrs.frozen
class FieldSpec:
    """Type, range, default and meaning of one field.

    Attributes:
        name: The YAML key.
        kind: The value's type.
        meaning: One line for the docs.
        default: The default as documented (text); ``compile`` resolves it.
        low, high: Inclusive bounds unless ``low_open``/``high_open``.
        allowed: For str/int fields with a closed set of values.
        enum: For enum fields.
        searchable: Whether the field may appear in ``search_space``.

    Example:
        >>> spec = TRAINING_PARAMETERS["momentum"]
        >>> spec.kind, spec.range_text(), spec.default
        (<Kind.FLOAT: 'float'>, 'in [0, 1]', '0.9')
    """

    name: str
    kind: Kind
    meaning: str
    default: str = "none"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allowed: tuple | None = None
    enum: type[AzureEnum] | None = None
    searchable: bool = True

    # -- normalising -----------------------------------------------------
    def convert(self, value: Any) -> Any:
        """Normalises a value (ints to floats, enum casings); idempotent and
        lenient: a value it cannot normalise is returned unchanged for
        :meth:`check` to report."""
        if value is None:
            return None
        if self.kind is Kind.FLOAT and is_number(value):
            return float(value)
        if self.kind is Kind.INT and is_int(value):
            return int(value)
        if self.kind is Kind.ENUM:
            member = self.enum.parse(value)
            return member if member is not None else value
        return value

    # -- checking ----------------------------------------------------------
    def check(self, value: Any) -> str | None:
        """The rule ``value`` breaks, or ``None`` when it is valid."""
        if value is None:
            return None
        kind = self.kind
        if kind is Kind.FLOAT and not is_number(value):
            return f"must be a number, got {fmt(value)}"
        if kind is Kind.INT and not is_int(value):
            return f"must be an integer, got {fmt(value)}"
        if kind is Kind.BOOL and not isinstance(value, bool):
            return f"must be true or false, got {fmt(value)}"
        if kind is Kind.STR and not isinstance(value, str):
            return f"must be a string, got {fmt(value)}"
        if kind is Kind.ENUM and self.enum.parse(value) is None:
            hint = closest(str(value), self.enum.values())
            extra = f" (did you mean {hint!r}?)" if hint else ""
            return f"must be one of {', '.join(self.enum.values())}, got {fmt(value)}{extra}"
        if kind is Kind.JSON:
            return self._check_json(value)
        if self.allowed is not None and value not in self.allowed and not (
                self.name == "model_name" and model_spec(value) is not None):
            return self._not_allowed(value)
        if kind in (Kind.FLOAT, Kind.INT) and not self.in_range(value):
            return f"must be {self.range_text()}, got {value!r}"
        return None

    def in_range(self, value: float) -> bool:
        """Whether a number lies within the bounds."""
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True

    def range_text(self) -> str:
        """The bounds in words, e.g. ``in [0, 1]`` or ``>= 1``."""
        lo, hi = _num(self.low), _num(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {lo}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {hi}"
        return "any value"

    def type_text(self) -> str:
        """The type in words, for the docs table."""
        if self.kind is Kind.ENUM:
            return "enum: " + " \\| ".join(self.enum.values())
        return {Kind.FLOAT: "float", Kind.INT: "int", Kind.BOOL: "bool", Kind.STR: "str",
                Kind.JSON: "str (JSON object)"}[self.kind]

    def valid_text(self) -> str:
        """The valid values in words, for the docs table."""
        if self.allowed is not None:
            return ", ".join(str(v) for v in self.allowed) if len(self.allowed) < 6 else "see models"
        if self.kind in (Kind.FLOAT, Kind.INT):
            return self.range_text()
        if self.kind is Kind.JSON:
            return "keys: " + ", ".join(sorted(ADVANCED_SETTINGS))
        return "–"

    def _not_allowed(self, value: Any) -> str:
        problem = custom_model_problem(value) if self.name == "model_name" else None
        if problem is not None:
            return problem
        if self.name == "model_name" and isinstance(value, str) and "/" in value:
            return (f"{value!r} is a Hugging Face Hub id whose architecture imgtune does not build. Supported: "
                    f"one of {', '.join(MODEL_NAMES)}, or a timm model on the Hub with one of the architectures "
                    f"{', '.join(HUB_ARCHITECTURES)}: timm/<architecture>[.<tag>][@<revision>], e.g. "
                    f"timm/resnet50.a1_in1k")
        hint = closest(str(value), [str(v) for v in self.allowed])
        extra = f" (did you mean {hint!r}?)" if hint else ""
        shown = ", ".join(str(v) for v in self.allowed)
        return f"must be one of {shown}, got {fmt(value)}{extra}"

    def _check_json(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a JSON object as a string, got {fmt(value)}"
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            return f"must be a JSON object as a string: {exc.msg} at character {exc.pos}"
        if not isinstance(parsed, dict):
            return f"must be a JSON object, got {type(parsed).__name__}"
        problems = []
        for key, val in parsed.items():
            if key not in ADVANCED_SETTINGS:
                # Azure has many keys of its own: kept (a job file's loader warns); a near miss of
                # one of imgtune's keys is a typo, reported.
                hint = closest(key, list(ADVANCED_SETTINGS))
                if hint:
                    problems.append(f"unknown key {key!r} (did you mean {hint!r}?); "
                                    f"known: {', '.join(sorted(ADVANCED_SETTINGS))}")
            else:
                msg = ADVANCED_SETTINGS[key][1](val)
                if msg:
                    problems.append(f"{key}: {msg}")
        return "; ".join(problems) or None


def near_known_setting(key: str) -> bool:
    """Whether an ``advanced_settings`` key not in :data:`ADVANCED_SETTINGS` is a near miss of
    one (a typo, reported); other unknown keys are Azure's own, kept and unused.

    Example:
        >>> near_known_setting("path_maps"), near_known_setting("apply_mosaic_for_yolo")
        (True, False)
    """
    return key not in ADVANCED_SETTINGS and closest(key, list(ADVANCED_SETTINGS)) is not None


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


def _f(name: str, low: float | None = 0.0, high: float | None = 1.0, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, kind=Kind.FLOAT, low=low, high=high, **kw)


def _i(name: str, low: float | None = 1, high: float | None = None, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, kind=Kind.INT, low=low, high=high, **kw)


def _b(name: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, kind=Kind.BOOL, **kw)


def _check_path_map(v: Any) -> str | None:
    if not isinstance(v, Mapping) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        return "must map URL prefixes to local folders, e.g. {\"azureml://.../paths/\": \"data/\"}"
    return None


def _check_str(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "must be a non-empty string"


def _check_dtype(v: Any) -> str | None:
    return None if v in ("float32", "bfloat16", "float16") else "must be one of float32, bfloat16, float16"


def _check_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def _check_augment_on(v: Any) -> str | None:
    return None if v in ("auto", "host", "device") else "must be one of auto, host, device"


#: Keys of ``training_parameters.advanced_settings`` (a JSON object as text):
#: key -> (meaning, check). Azure documents only object-detection flags here;
#: ``apply_automl_train_augmentations`` is accepted for compatibility (it
#: switches the training augmentation off); the rest are imgtune's own.
ADVANCED_SETTINGS: dict[str, tuple[str, Any]] = {
    "path_map": ("rewrites remote image URLs (azureml://...) to local folders: {prefix: folder}", _check_path_map),
    "pretrained": ("false trains from random weights instead of the model's ImageNet weights (the default)",
                   _check_bool),
    "pretrained_weights": ("a torchvision/timm state dict (.safetensors or .pth) to start from", _check_str),
    "compute_dtype": ("float32 | bfloat16 | float16; default bfloat16 on GPU/TPU, float32 on CPU", _check_dtype),
    "apply_automl_train_augmentations": ("false turns the training augmentation off (Azure's flag)", _check_bool),
    "augment_on": (("where the training augmentation runs: auto (default; device on GPU/TPU, host on CPU) | host | "
                    "device (needs the sweep's decoded image store)"), _check_augment_on),
}

#: Upper bounds of the sizes (a property of the job alone; what also depends on the data, e.g. a
#: batch larger than the training images, is checked before training: imgtune.train.data.check).
MAX_EPOCHS = 10_000  #: number_of_epochs and the other counts of epochs or evaluations
MAX_BATCH = 4096  #: training_batch_size, validation_batch_size, gradient_accumulation_step
MAX_CROP = 1024  #: training_crop_size, validation_crop_size (validation_resize_size: twice that)

_P = [
    FieldSpec("advanced_settings", Kind.JSON, "Extra settings as a JSON object (see below).", searchable=False),
    _b("ams_gradient", meaning="Use AMSGrad with adam or adamw.", default="false"),
    _f("beta1", meaning="Adam/AdamW first-moment decay.", default="0.9"),
    _f("beta2", meaning="Adam/AdamW second-moment decay.", default="0.999"),
    _i("checkpoint_frequency", high=MAX_EPOCHS, meaning="Checkpoint every N epochs (none: keep the best epoch by the primary metric).",
       searchable=False),
    FieldSpec("checkpoint_run_id", Kind.STR, "A finished run whose best checkpoint to start from (incremental training).",
              searchable=False),
    _b("distributed", meaning="Data-parallel training over all devices the trial is given.", default="false"),
    _b("early_stopping", meaning="Stop when the primary metric stops improving.", default="true"),
    _i("early_stopping_delay", high=MAX_EPOCHS, meaning="Evaluations to wait before tracking improvement.", default="5"),
    _i("early_stopping_patience", high=MAX_EPOCHS, meaning="Evaluations without improvement before stopping.", default="5"),
    _b("enable_onnx_normalization", meaning="Bake ImageNet normalisation into the ONNX export.", default="false"),
    _i("evaluation_frequency", high=MAX_EPOCHS, meaning="Evaluate every N epochs.", default="1"),
    _i("gradient_accumulation_step", high=MAX_BATCH, meaning="Batches whose gradients are summed per optimiser update.", default="1"),
    _i("layers_to_freeze", low=0, high=1000, meaning="Freeze the first N layer groups of the model.", default="0"),
    _f("learning_rate", meaning="Initial learning rate.", default="per model and task"),
    FieldSpec("learning_rate_scheduler", Kind.ENUM, "Learning-rate schedule.", default="warmup_cosine",
              enum=LearningRateScheduler),
    FieldSpec("model_name", Kind.STR, "Model architecture.", default=DEFAULT_MODEL, allowed=MODEL_NAMES),
    _f("momentum", meaning="SGD momentum.", default="0.9"),
    _b("nesterov", meaning="Nesterov momentum with sgd.", default="true"),
    _i("number_of_epochs", high=MAX_EPOCHS, meaning="Training epochs.", default="15"),
    _i("number_of_workers", low=0, high=1024, meaning="Image-decoding threads (0: decode in the training thread).",
       default="4 (capped at the cores a trial gets)"),
    FieldSpec("optimizer", Kind.ENUM, "Optimiser.", default="sgd", enum=Optimizer),
    _i("random_seed", low=0, high=2**32 - 1, meaning="Seed of weights, augmentation and order.", default="the plan's seed"),
    _f("step_lr_gamma", meaning="Step schedule: factor per step.", default="0.5"),
    _i("step_lr_step_size", high=MAX_EPOCHS, meaning="Step schedule: epochs per step.", default="5"),
    _i("training_batch_size", high=MAX_BATCH, meaning="Training batch size.", default="78 (ViT: per model)"),
    _i("validation_batch_size", high=MAX_BATCH, meaning="Validation batch size.", default="78 (ViT: per model)"),
    _f("warmup_cosine_lr_cycles", meaning="Cosine schedule: cycles over training.", default="0.45"),
    _i("warmup_cosine_lr_warmup_epochs", high=MAX_EPOCHS, meaning="Cosine schedule: linear warm-up epochs.", default="2"),
    _f("weight_decay", meaning="Weight decay (L2 for sgd/adam, decoupled for adamw).", default="1e-4"),
    _i("training_crop_size", high=MAX_CROP, meaning="Training crop size in pixels.", default="224"),
    _i("validation_crop_size", high=MAX_CROP, meaning="Validation centre-crop size in pixels.", default="224"),
    _i("validation_resize_size", high=2 * MAX_CROP, meaning="Validation resize (shorter side) before the centre crop.", default="256"),
    FieldSpec("weighted_loss", Kind.INT, "0 none, 1 sqrt(class weights), 2 class weights.", default="0",
              allowed=(0, 1, 2)),
]
#: The 34 training parameters, keyed by name, in Azure's alphabetical order.
TRAINING_PARAMETERS: dict[str, FieldSpec] = {p.name: p for p in _P}
#: Training parameters that ``compile`` may leave unset: their ``None`` is itself a setting.
UNRESOLVED = ("checkpoint_frequency", "checkpoint_run_id")
#: The 31 fields that may appear in a search space.
SEARCHABLE: dict[str, FieldSpec] = {k: v for k, v in TRAINING_PARAMETERS.items() if v.searchable}

#: Limits (ranges from Azure's docs; the SDK checks none).
LIMITS: dict[str, FieldSpec] = {
    "max_trials": _i("max_trials", high=1000, meaning="Trials at most.", default="1"),
    "max_concurrent_trials": _i("max_concurrent_trials", high=100, meaning="Trials at once.", default="1"),
    "timeout_minutes": _i("timeout_minutes", high=60 * 24 * 60, meaning="Sweep timeout.", default="10080 (7 days)"),
}

#: Early-termination policy fields.
POLICY_FIELDS: dict[str, FieldSpec] = {
    "evaluation_interval": _i("evaluation_interval", low=0, meaning="Act every N reports (0 acts as 1)."),
    "delay_evaluation": _i("delay_evaluation", low=0, meaning="First report the policy may act at."),
    "slack_factor": _f("slack_factor", high=None, meaning="Bandit: allowed ratio to the best."),
    "slack_amount": _f("slack_amount", high=None, meaning="Bandit: allowed distance to the best."),
    "truncation_percentage": _i("truncation_percentage", high=99, meaning="Truncation: percent stopped."),
}

#: Job-level numeric fields.
JOB_FIELDS: dict[str, FieldSpec] = {
    "validation_data_size": _f("validation_data_size", low_open=True, high_open=True,
                               meaning="Fraction held out for validation.", default="0.2"),
    "test_data_size": _f("test_data_size", low_open=True, high_open=True,
                         meaning="Fraction held out for the final test.", default="none"),
}

assert len(TRAINING_PARAMETERS) == 34 and len(SEARCHABLE) == 31
