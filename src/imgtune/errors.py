"""The one exception imgtune raises for bad input, and its parts.

Every check in imgtune collects *all* the problems it finds and raises once, so
a user fixes a config in one pass instead of one error at a time.

Example:
    >>> err = ValidationError([Problem("limits.max_trials", "must be in [1, 1000], got 0")])
    >>> print(err)
    1 problem:
      limits.max_trials: must be in [1, 1000], got 0
    >>> isinstance(err, ValueError)
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Problem", "ValidationError", "closest", "join_path"]


@attrs.frozen
class Problem:
    """One thing wrong with the input.

    Attributes:
        path: Dotted path of the offending value, e.g.
            ``search_space[1].learning_rate.min_value``; ``""`` for the whole input.
        message: The rule that was broken, with the value that broke it.
        line: 1-based line in the YAML source, when known.
        column: 1-based column in the YAML source, when known.
        source: The file the input came from, when it came from one.

    Example:
        >>> str(Problem("limits.max_trials", "must be in [1, 1000], got 0", line=3, column=15))
        'limits.max_trials: must be in [1, 1000], got 0 (line 3, column 15)'
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    source: str | None = None

    def prefixed(self, prefix: str) -> Problem:
        """Returns this problem with ``prefix`` put in front of its path."""
        return attrs.evolve(self, path=join_path(prefix, self.path))

    def __str__(self) -> str:
        source = f"{self.source}: " if self.source else ""
        where = f"{self.path}: " if self.path else ""
        at = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{source}{where}{self.message}{at}"


class ValidationError(ValueError):
    """Bad input: lists every problem found, each with its dotted path.

    Attributes:
        problems: The problems, in the order they were found.

    Example:
        >>> err = ValidationError([Problem("max_trials", "must be >= 1, got 0")], "Limits")
        >>> [p.path for p in err.problems]
        ['max_trials']
        >>> print(err)
        1 problem in Limits:
          max_trials: must be >= 1, got 0
        >>> err.prefixed("limits").problems[0].path
        'limits.max_trials'
    """

    def __init__(self, problems: Iterable[Problem], title: str | None = None):
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.title = title
        super().__init__(self._render())

    def _render(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''}"
        if self.title:
            head += f" in {self.title}"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)

    def prefixed(self, prefix: str) -> ValidationError:
        """Returns the same error with ``prefix`` put in front of every path."""
        return ValidationError([p.prefixed(prefix) for p in self.problems], self.title)

    def from_source(self, source: str) -> ValidationError:
        """Returns the same error naming the file its input came from, in its title and every problem.

        >>> print(ValidationError([Problem("limits", "must be a mapping", 3, 1)], "job").from_source("job.yml"))
        1 problem in job.yml:
          job.yml: limits: must be a mapping (line 3, column 1)
        """
        return ValidationError([attrs.evolve(p, source=p.source or source) for p in self.problems], source)

    def __reduce__(self):  # picklable across processes
        return (ValidationError, (self.problems, self.title))

    @property
    def lines(self) -> list[str]:
        """One printable line per problem (what the CLI writes to stderr)."""
        return [str(p) for p in self.problems]


def join_path(prefix: str, path: str) -> str:
    """Joins two dotted paths; ``[i]`` segments attach without a dot.

    >>> join_path("search_space", "[1].learning_rate")
    'search_space[1].learning_rate'
    >>> join_path("", "limits")
    'limits'
    """
    if not prefix:
        return path
    if not path:
        return prefix
    if path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


def closest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate closest to ``word``, or ``None`` when none is close.

    >>> closest("learning_rat", ["learning_rate", "momentum"])
    'learning_rate'
    """
    found = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
