"""Partition keys: reversible, valid for Dagster, readable, collision-free, storable."""

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from techne_assets.core.partition_keys import (
    HASH_SEPARATOR,
    MAX_KEY_LENGTH,
    input_video_reference,
    is_shortened,
    is_valid_partition_key,
    partition_key_for,
    reference_for,
    storage_prefix,
)

# At most 12 encoded characters per character (4 UTF-8 bytes, each %XX): 80 always fit.
references = st.text(st.characters(exclude_categories=()), min_size=1, max_size=80).filter(
    lambda s: s.strip()
)
# Every code point, surrogates and unassigned ones included, some keys past the length limit.
any_references = st.one_of(
    references,
    st.text(min_size=1, max_size=300),
    st.text(alphabet="a/.%~[", min_size=MAX_KEY_LENGTH - 20, max_size=MAX_KEY_LENGTH + 40),
).filter(lambda s: s.strip())


@settings(max_examples=400)
@given(any_references)
def test_every_reference_maps_to_a_valid_partition_key(reference):
    partition_key = partition_key_for(reference)
    assert is_valid_partition_key(partition_key)
    assert len(partition_key) <= MAX_KEY_LENGTH
    assert partition_key == partition_key_for(reference)


@settings(max_examples=400)
@given(references)
def test_decode_of_encode_is_the_reference_under_the_limit(reference):
    partition_key = partition_key_for(reference)
    assert not is_shortened(partition_key)
    assert reference_for(partition_key) == reference


@settings(max_examples=400)
@given(any_references, any_references)
def test_two_different_videos_never_share_a_partition(a, b):
    if a != b:
        assert partition_key_for(a) != partition_key_for(b)


@settings(max_examples=300)
@given(any_references, any_references)
def test_two_partitions_never_share_a_storage_prefix(a, b):
    key_a, key_b = partition_key_for(a), partition_key_for(b)
    if key_a != key_b:
        assert storage_prefix(key_a) != storage_prefix(key_b)


@given(any_references)
def test_storage_prefixes_are_plain_relative_keys(reference):
    parts = storage_prefix(partition_key_for(reference)).split("/")
    assert all(part and part not in (".", "..") and not part.startswith(".") for part in parts)


def test_same_name_in_two_folders_gets_two_partitions():
    assert partition_key_for("/calls/x/call.mp4") != partition_key_for("/calls/y/call.mp4")
    assert partition_key_for("s3://in/x/call.mp4") != partition_key_for("/x/call.mp4")


@pytest.mark.parametrize(
    "key",
    [
        "treinamento.mp4",
        "2024/05/Reunião de suporte - ERP (v2).mov",
        "Treinamento Configuração 01.mp4",
        "/srv/calls/aula.mp4",
    ],
)
def test_readable_keys_stay_as_they_are(key):
    assert partition_key_for(key) == key


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("aula [parte 1].mp4", "aula %5Bparte 1%5D.mp4"),
        ("a,b|c.mp4", "a%2Cb%7Cc.mp4"),
        ("fim....mp4", "fim%2E%2E%2E%2Emp4"),
        ("tab\tname.mp4", "tab%09name.mp4"),
        ("100%~ok.mp4", "100%25%7Eok.mp4"),
    ],
)
def test_what_dagster_forbids_is_percent_encoded(key, encoded):
    assert partition_key_for(key) == encoded
    assert reference_for(encoded) == key


def test_past_the_limit_the_key_is_cut_and_hashed_and_not_reversible():
    long_reference = "pasta/" * 200 + "aula.mp4"
    partition_key = partition_key_for(long_reference)
    assert len(partition_key) <= MAX_KEY_LENGTH and HASH_SEPARATOR in partition_key
    assert is_shortened(partition_key) and reference_for(partition_key) is None
    assert partition_key != partition_key_for(long_reference.replace("aula", "outra"))


def test_input_keys_that_look_like_locations_become_full_uris():
    assert input_video_reference("2024/aula.mp4", "s3://in/videos/") == "2024/aula.mp4"
    assert input_video_reference("/aula.mp4", "s3://in/videos/") == "s3://in/videos//aula.mp4"


def test_dagster_accepts_the_encoded_keys_in_a_dynamic_partition():
    keys = [
        partition_key_for(k)
        for k in ["aula [1].mp4", "a,b|c.mp4", "x...y.mp4", "ç ã é.mp4", "nul\x00.mp4"]
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("videos", keys)
        assert set(instance.get_dynamic_partitions("videos")) == set(keys)


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        partition_key_for("  ")
