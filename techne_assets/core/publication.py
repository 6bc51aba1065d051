"""What the `document` asset records about a published document."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PublishedDocument(BaseModel):
    partition_key: str
    uris: dict[str, str] = Field(description="file name → URI in the output storage")
    markdown: str = Field(description="the published Markdown, kept for the asset checks")
    screenshots: list[str] = Field(default_factory=list)
    dropped_duplicate_frames: list[float] = Field(default_factory=list)
    cost_usd: float = 0.0
    media_duration: float | None = None
    writer: str
    truncated_stages: list[str] = Field(
        default_factory=list, description="writer stages that hit their output limit"
    )

    @property
    def markdown_uri(self) -> str:
        return self.uris["document.md"]
