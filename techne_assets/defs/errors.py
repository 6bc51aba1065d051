"""User-caused errors become failed steps with a one-line description, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from techne_assets.adapters.transcription import TranscriptionFailed
from techne_assets.core.errors import InputError


@contextmanager
def input_errors_fail_the_step() -> Iterator[None]:
    try:
        yield
    except InputError as error:
        # Bad input will not get better on retry: fail once, clearly.
        raise dg.Failure(
            description=error.one_line(),
            metadata={"input": error.source, "reason": error.reason},
            allow_retries=False,
        ) from error
    except TranscriptionFailed as error:
        raise dg.Failure(description=" ".join(str(error).split()), allow_retries=False) from error


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe_step_failure(event: dg.DagsterEvent) -> tuple[str, str]:
    """(step, one-line reason) of a step-failure event: the Failure's own description when the
    step raised one, else the whole error with its causes, each on the same line."""
    data = event.step_failure_data
    step = event.step_key or "run"
    if data.user_failure_data and data.user_failure_data.description:
        return step, _one_line(data.user_failure_data.description)
    messages: list[str] = []
    error = data.error
    while error is not None:
        message = _one_line(error.message)
        if message and message not in messages:
            messages.append(message)
        error = error.cause
    if messages:
        return step, f"step {step} failed: {' — caused by: '.join(messages)}"
    return step, f"step {step} failed"
