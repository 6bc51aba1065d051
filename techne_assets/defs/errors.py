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
