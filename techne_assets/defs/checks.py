"""Asset checks. The transcript's blocking checks keep an empty transcript from the paid model;
the document's blocking checks decide whether it is published: `published_document` runs only
when every one of them passed."""

import dagster as dg

from techne_assets.core import evidence, quality
from techne_assets.core.publication import RenderedDocument
from techne_assets.core.transcript import Transcript
from techne_assets.core.writing.base import Draft
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import QualityResource


def _result(verdict: quality.Verdict, severity=dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=severity,
        description=verdict.description,
        metadata=verdict.metadata,
    )


@dg.asset_check(asset="transcript", blocking=True, partitions_def=videos_partitions,
                description="The transcript has speech.")
def transcript_not_empty(transcript: Transcript) -> dg.AssetCheckResult:
    return _result(quality.transcript_has_speech(transcript))


@dg.asset_check(asset="transcript", blocking=True, partitions_def=videos_partitions,
                description="Speech reaches at least the configured share (90%) of the media duration.")
def transcript_covers_media(transcript: Transcript, quality_rules: QualityResource) -> dg.AssetCheckResult:
    return _result(
        quality.transcript_coverage(transcript, transcript.duration or 0.0, quality_rules.min_coverage)
    )


@dg.asset_check(asset="transcript", blocking=True, partitions_def=videos_partitions,
                description="No speech ends after the media (beyond a small tolerance): the "
                "captions belong to this video and no timestamp runs away.")
def transcript_within_media(transcript: Transcript, quality_rules: QualityResource) -> dg.AssetCheckResult:
    return _result(
        quality.transcript_within_media(
            transcript, transcript.duration or 0.0, quality_rules.overrun_tolerance_seconds
        )
    )


@dg.asset_check(asset="transcript", blocking=True, partitions_def=videos_partitions,
                description="Every cue ends after it starts (a cue that does not is named by its line).")
def transcript_timings_ordered(transcript: Transcript) -> dg.AssetCheckResult:
    return _result(quality.transcript_timings_ordered(transcript))


@dg.asset_check(asset="transcript", partitions_def=videos_partitions,
                description="Words per spoken minute are plausible for speech.")
def transcript_speech_rate(transcript: Transcript, quality_rules: QualityResource) -> dg.AssetCheckResult:
    verdict = quality.transcript_speech_rate(
        transcript, quality_rules.min_words_per_minute, quality_rules.max_words_per_minute
    )
    return _result(verdict, dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset="document", blocking=True, partitions_def=videos_partitions,
                description="Every section of the format is present, in order.")
def document_has_all_sections(document: RenderedDocument) -> dg.AssetCheckResult:
    return _result(quality.document_sections(document.markdown))


@dg.asset_check(asset="document", blocking=True, partitions_def=videos_partitions,
                description="No writer output was cut at its token limit.")
def document_not_truncated(document: RenderedDocument) -> dg.AssetCheckResult:
    return _result(quality.document_not_truncated(document.truncated_stages))


@dg.asset_check(asset="document", blocking=True, partitions_def=videos_partitions,
                additional_ins={"transcript": dg.AssetIn("transcript")},
                description="Every command, path and URL in the document occurs in the transcript.")
def document_grounded(document: RenderedDocument, transcript: Transcript) -> dg.AssetCheckResult:
    return _result(quality.document_grounded(document.markdown, transcript))


@dg.asset_check(asset="document", blocking=True, partitions_def=videos_partitions,
                additional_ins={"draft": dg.AssetIn("draft"), "transcript": dg.AssetIn("transcript")},
                description="Every item of the document names transcript segments that exist and lie "
                "within its time range (the offline writer's items may name none).")
def document_evidenced(document: RenderedDocument, draft: Draft, transcript: Transcript) -> dg.AssetCheckResult:
    return _result(
        evidence.document_evidenced(
            draft.document, transcript, require_evidence=not draft.document.header.written_offline
        )
    )


@dg.asset_check(asset="document", blocking=True, partitions_def=videos_partitions,
                description="Every [hh:mm:ss] in the document lies within the media duration.")
def document_timestamps_valid(document: RenderedDocument) -> dg.AssetCheckResult:
    return _result(quality.document_timestamps_valid(document.markdown, document.media_duration or 0.0))


@dg.asset_check(asset="document", partitions_def=videos_partitions,
                description="The model cost of the video stays under the per-video budget.")
def document_within_budget(document: RenderedDocument, quality_rules: QualityResource) -> dg.AssetCheckResult:
    verdict = quality.document_within_budget(document.cost_usd, quality_rules.per_video_budget_usd)
    return _result(verdict, dg.AssetCheckSeverity.WARN)
