"""Errors a user can cause, typed so the CLI and Dagster turn them into one-line messages."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: names the input and the reason, shown to the user as one line."""

    def __init__(self, source: str, reason: str):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")

    def one_line(self) -> str:
        return " ".join(str(self).split())


class TranscriptParseError(InputError):
    """A caption or transcript file that does not parse; the reason says where (line or field)."""


class ProcessingFailed(Exception):
    """A pipeline step or a blocking check failed; the message is that step's one-line description."""
