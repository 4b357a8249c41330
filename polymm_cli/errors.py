"""The error tree and the one exit-code table.

Every failure a user can cause or meet maps to one of these classes; the CLI turns them into a
one-line message and the exit code below. Nothing here formats secrets: messages are built by the
raiser from public values only.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_VENUE = 3
EXIT_RISK_HALT = 4
EXIT_INTERRUPTED = 130


class PolymmError(Exception):
    """Base of every expected failure; `exit_code` is what the CLI exits with."""

    exit_code = EXIT_BUG


class UsageError(PolymmError):
    """Bad input: a flag, an argument, a settings value, an unknown market."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A malformed or missing configuration value."""


class VenueError(PolymmError):
    """The venue (exchange, network) refused or failed a request."""

    exit_code = EXIT_VENUE

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RiskHalt(PolymmError):
    """Trading stopped by a risk rule or the kill switch."""

    exit_code = EXIT_RISK_HALT


class ExchangeRejection(PolymmError):
    """The local exchange refused a request; `message` is the real Polymarket wording."""

    exit_code = EXIT_VENUE

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def exit_code_for(error: BaseException) -> int:
    """The exit code for any exception (KeyboardInterrupt is 130, unexpected ones are bugs)."""
    if isinstance(error, PolymmError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_BUG


class EngineFailure(PolymmError):
    """A task of the running engine died: quotes were pulled and every order cancelled (exit 1)."""

    exit_code = EXIT_BUG


def describe(error: BaseException, limit: int = 200) -> str:
    """One line naming an exception: its type and its message (whitespace folded, bounded)."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    name = type(error).__name__
    return f"{name}: {text}" if text else name
