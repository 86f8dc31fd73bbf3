"""How the CLI runs a command's async work (``cli.shared.run_command`` and ``run_async``)."""

from __future__ import annotations

import pytest
import typer

from reconciler.cli.shared import run_async, run_command
from reconciler.core.errors import LfrError


class Counted:
    """A result that counts how often it is formatted (a plan of 10,000 records took ~0.25 s
    each time)."""

    formatted = 0

    def __repr__(self) -> str:
        Counted.formatted += 1
        return "Counted()"


@pytest.mark.parametrize("runner", [run_command, run_async])
def test_the_result_of_a_command_is_handed_back_without_being_formatted(runner: object) -> None:
    async def work() -> Counted:
        return Counted()

    Counted.formatted = 0
    result = runner(work())  # type: ignore[operator]
    assert isinstance(result, Counted)
    # Python 3.11's asyncio.run formats its main task (result included) twice on the way out.
    assert Counted.formatted == 0


def test_an_lfr_error_becomes_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    async def work() -> None:
        raise LfrError("the org is gone")

    with pytest.raises(typer.Exit) as caught:
        run_command(work())
    assert caught.value.exit_code == 1
    assert "Error: the org is gone" in capsys.readouterr().err


def test_a_result_of_none_is_handed_back() -> None:
    async def work() -> None:
        return None

    assert run_async(work()) is None
