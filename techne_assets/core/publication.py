"""What the `document` asset records about a published document."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, Field

from techne_assets.core.partition_keys import storage_prefix


class _DocumentFacts(BaseModel):
    """What the rendered and the published document both say about themselves."""

    partition_key: str
    markdown: str = Field(description="the Markdown, read by the asset checks")
    screenshots: list[str] = Field(default_factory=list)
    dropped_duplicate_frames: list[float] = Field(default_factory=list)
    cost_usd: float = 0.0
    media_duration: float | None = None
    writer: str
    truncated_stages: list[str] = Field(
        default_factory=list, description="writer stages that hit their output limit"
    )


class RenderedDocument(_DocumentFacts):
    """What the `document` asset rendered into the asset store; checked before publication."""

    files: dict[str, str] = Field(description="file name → key in the asset store")


class PublishedDocument(_DocumentFacts):
    """The checked document, copied to the output location as one version behind its manifest."""

    uris: dict[str, str] = Field(description="file name → URI in the output storage")

    @property
    def markdown_uri(self) -> str:
        return self.uris["document.md"]


def video_link(
    *, video_key: str, partition_key: str, input_uri: str, output_uri: str, template: str | None = None
) -> str | None:
    """Where the document's time links open the video (`#t=SECONDS` is appended to it).

    A configured template (`{key}` = the video's key) wins; a local document links to the local
    video by a relative path, so the link survives moving the data folder; an S3 video has no
    stable public address, so without a template there are no links. `video_key` is the video
    reference: a key in the input, or an absolute path (which the join below keeps as it is).
    """
    if template:
        return template.format(key=quote(video_key))
    if any(uri.startswith("s3://") for uri in (input_uri, output_uri, video_key)):
        return None
    # The document sits in a version folder `<partition prefix>/v<N>/`: every N is as deep.
    document_dir = Path(output_uri).resolve() / storage_prefix(partition_key) / "v1"
    video_path = Path(input_uri).resolve() / video_key
    return quote(Path(os.path.relpath(video_path, document_dir)).as_posix())
