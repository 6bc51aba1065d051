"""What the pipeline knows about a source video: where it is and what ffprobe saw in it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AudioStream(BaseModel):
    index: int
    codec: str | None = None
    channels: int | None = None
    sample_rate: int | None = None
    language: str | None = None


class MediaInfo(BaseModel):
    """ffprobe's view of a media file."""

    duration_seconds: float = Field(ge=0)
    format_name: str | None = None
    video_codec: str | None = None
    creation_time: str | None = Field(
        default=None, description="the container's creation_time tag (when the recording was made)"
    )
    width: int | None = None
    height: int | None = None
    audio_streams: list[AudioStream] = Field(default_factory=list)


class VideoInfo(BaseModel):
    """The `video` asset: the source object and its media facts."""

    partition_key: str
    key: str = Field(description="the object's key inside the input storage")
    uri: str = Field(description="file path or s3:// URI of the source object")
    size_bytes: int
    etag: str = Field(description="S3 ETag, or the size-and-mtime change token of a local file")
    content_id: str = Field(description="what identifies the content: S3 ETag, or SHA-256 of a local file")
    last_modified: str | None = None
    media: MediaInfo

    def call_date(self) -> tuple[str | None, Literal["recording", "file"] | None]:
        """The day of the call: the container's creation_time, else the object's date, and which."""
        if self.media.creation_time and self.media.creation_time[:4] > "1970":
            return self.media.creation_time[:10], "recording"
        if self.last_modified:
            return self.last_modified[:10], "file"
        return None, None
