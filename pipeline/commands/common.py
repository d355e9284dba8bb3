"""What every `mediamon` command shares: its output formats and its error contract (issue 20).

A command that finds a mistake raises :class:`UserError` (exit 2) or :class:`RuntimeFailure`
(exit 1) with one line naming what to fix; ``pipeline.cli`` prints it on stderr. Stage code never
prints: it raises its own exceptions, and ``pipeline.cli`` translates those at the edge.
"""

from __future__ import annotations

from enum import StrEnum

import typer

# Exit statuses, the same in every command.
EXIT_USER_ERROR = 2  # usage or input: a bad option, a missing file, an unknown name
EXIT_RUNTIME_FAILURE = 1  # the world failed: database down, port busy, host unreachable


class OutputFormat(StrEnum):
    """``--format``: text for people, JSON for scripts (the same data)."""

    text = "text"
    json = "json"


class UserError(typer.TyperException):
    """A mistake the user can fix (a bad value, a missing file, an unknown name): exit 2."""

    exit_code = EXIT_USER_ERROR


class RuntimeFailure(typer.TyperException):
    """Something outside the user's input failed (a database, a port, a host): exit 1."""

    exit_code = EXIT_RUNTIME_FAILURE

