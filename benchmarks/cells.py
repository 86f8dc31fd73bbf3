"""How a row of the benchmark table is spelled, and the table's text.

Owns the columns, the spelling of a figure (seconds, MB, requests a second), the yardsticks a
figure is compared with (its goal, a bound and a floor, another run), the goals (a limit, a
multiple of a bound, a ratio, a check the measurement made) and ``row``: a row's definition
and its measurement's fields (``Measured``) in, the seven cells out. The definitions themselves
are table.py's. Called by table.py, suite.py, the measurements and run.py.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# id, measure, result, compared with, ratio, goal, met
Row = tuple[str, str, str, str, str, str, str]
HEADER: Row = ("#", "measure", "result", "compared with", "ratio", "goal", "met")
DASH = "-"

Fields = Mapping[str, Any]
Unit = Callable[[Any], str]
_COMPARE = {"<=": operator.le, ">=": operator.ge}


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def megabytes(value: float) -> str:
    return f"{value:.0f} MB"


def per_second(value: float) -> str:
    return f"{value:.0f} req/s"


def text(value: str) -> str:
    return value


def counts(requests: Mapping[str, int]) -> str:
    """Requests per category, as the notes spell them."""
    return f"read {requests['read']}, search {requests['search']}, write {requests['write']}"


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- goals: the "goal" and "met" cells -----------------------------------------------------


class Goal(Protocol):
    def judge(self, figure: Any, ratio: float | None, fields: Fields) -> tuple[str, bool]: ...


@dataclass(frozen=True)
class Limit:
    """At most (or at least) ``value``, spelled ``text``; its own yardstick with ``GOAL``."""

    op: str
    value: float
    text: str
    digits: int = 2  # of the ratio to the goal

    def judge(self, figure: Any, ratio: float | None, fields: Fields) -> tuple[str, bool]:
        return f"{self.op} {self.text}", _COMPARE[self.op](figure, self.value)


@dataclass(frozen=True)
class Times:
    """At most (or at least) ``factor`` times the field ``key`` (a bound, a floor)."""

    op: str
    factor: float
    key: str
    name: str | None = None  # how the goal cell names it (default: ``key``)

    def judge(self, figure: Any, ratio: float | None, fields: Fields) -> tuple[str, bool]:
        ok = _COMPARE[self.op](figure, self.factor * fields[self.key])
        return f"{self.op} {self.factor:g}x {self.name or self.key}", ok


@dataclass(frozen=True)
class Ratio:
    """The ratio cell at most (or at least) ``limit`` (a speedup, a multiple of a baseline)."""

    op: str
    limit: float

    def judge(self, figure: Any, ratio: float | None, fields: Fields) -> tuple[str, bool]:
        assert ratio is not None, "a ratio goal needs a yardstick with one ratio"
        return f"{self.op} {self.limit:g}x", _COMPARE[self.op](ratio, self.limit)


@dataclass(frozen=True)
class Check:
    """A goal the measurement judged itself: the field ``key`` says whether it is met."""

    text: str
    key: str

    def judge(self, figure: Any, ratio: float | None, fields: Fields) -> tuple[str, bool]:
        return self.text, bool(fields[self.key])


# --- yardsticks: the "compared with" and "ratio" cells -------------------------------------


# The "compared with" and "ratio" cells, and the ratio for a ``Ratio`` goal (None: not one).
Compared = tuple[str, str, float | None]


class Yardstick(Protocol):
    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared: ...


class Nothing:
    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared:
        return DASH, DASH, None


class TheGoal:
    """Compared with the row's own ``Limit``."""

    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared:
        assert isinstance(goal, Limit), "compared with its goal: the goal is a Limit"
        ratio = figure / goal.value
        return f"goal {goal.text}", f"{ratio:.{goal.digits}f}x", ratio


@dataclass(frozen=True)
class Bound:
    """Compared with the rate-limit bound in the field ``key`` (bounds.py)."""

    key: str = "bound"

    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared:
        bound = fields[self.key]
        return f"bound {seconds(bound)}", f"{figure / bound:.2f}x", figure / bound


@dataclass(frozen=True)
class BoundFloor:
    """Compared with the bound and the burst-aware floor (bounds.py): two ratios."""

    bound: str = "bound"
    floor: str = "floor"

    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared:
        bound, floor = fields[self.bound], fields[self.floor]
        return (
            f"bound {seconds(bound)}, floor {seconds(floor)}",
            f"{figure / bound:.2f}x, {figure / floor:.2f}x",
            None,
        )


@dataclass(frozen=True)
class Sum:
    """Compared with two bounds one after the other (the fields ``first`` and ``then``)."""

    first: str
    then: str

    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared:
        first, then = fields[self.first], fields[self.then]
        ratio = figure / (first + then)
        return f"{seconds(first)} + {seconds(then)}", f"{ratio:.2f}x", ratio


@dataclass(frozen=True)
class Versus:
    """Compared with another run's seconds (the field ``key``), spelled ``name``; the ratio is
    this figure over that one, or the field ``ratio`` where the measurement made it."""

    name: str
    key: str
    ratio: str | None = None
    digits: int = 2

    def compare(self, figure: Any, fields: Fields, goal: Goal | None) -> Compared:
        other = fields[self.key]
        ratio = fields[self.ratio] if self.ratio else figure / other
        return f"{self.name} {seconds(other)}", f"{ratio:.{self.digits}f}x", ratio


NOTHING = Nothing()
GOAL = TheGoal()


# --- a row ---------------------------------------------------------------------------------


@dataclass
class Measured:
    """What a measurement hands its rows: the fields they are spelled from (figures, bounds,
    the words of labels), its entries in the JSON, its notes under the table; ``skipped`` when
    this shape leaves it out (its rows say so)."""

    fields: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: bool = False


@dataclass(frozen=True)
class RowDef:
    """One row: its id, its label (``str.format`` over the measurement's fields), the field its
    result shows and in which unit, what that figure is compared with, and its goal."""

    id: str
    label: str
    figure: str
    against: Yardstick = NOTHING
    goal: Goal | None = None
    unit: Unit = seconds
    skipped: str | None = None  # the label when the measurement is skipped (default: label)


def row(definition: RowDef, fields: Fields) -> Row:
    """The cells of ``definition`` for a measurement's ``fields``."""
    figure = fields[definition.figure]
    compared, ratio_cell, ratio = definition.against.compare(figure, fields, definition.goal)
    goal, ok = DASH, DASH
    if definition.goal is not None:
        goal, judged = definition.goal.judge(figure, ratio, fields)
        ok = met(judged)
    label = definition.label.format(**fields)
    return (definition.id, label, definition.unit(figure), compared, ratio_cell, goal, ok)


def skipped(definition: RowDef, fields: Fields) -> Row:
    """The row of a measurement this shape skips: the table keeps it, saying so."""
    label = (definition.skipped or definition.label).format(**fields)
    return (definition.id, label, "skipped", DASH, DASH, DASH, DASH)


def render_table(rows: Sequence[Row]) -> str:
    table = [HEADER, *rows]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(HEADER))]
    lines = []
    for index, cells in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
