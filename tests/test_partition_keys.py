"""Partition keys: deterministic, valid for Dagster, readable and collision-free."""

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from techne_assets.core.partition_keys import (
    HASH_SEPARATOR,
    MAX_KEY_LENGTH,
    is_valid_partition_key,
    partition_key_for,
)

storage_keys = st.text(min_size=1, max_size=300).filter(lambda s: s.strip())


@given(storage_keys)
def test_every_key_maps_to_a_valid_partition_key(key):
    partition_key = partition_key_for(key)
    assert is_valid_partition_key(partition_key)
    assert len(partition_key) <= MAX_KEY_LENGTH
    assert partition_key == partition_key_for(key)


@settings(max_examples=300)
@given(storage_keys, storage_keys)
def test_different_keys_get_different_partitions(a, b):
    if a != b:
        assert partition_key_for(a) != partition_key_for(b)


@pytest.mark.parametrize(
    "key",
    ["treinamento.mp4", "2024/05/Reunião de suporte - ERP (v2).mov", "Treinamento Configuração 01.mp4"],
)
def test_valid_keys_stay_as_they_are(key):
    assert partition_key_for(key) == key


@pytest.mark.parametrize(
    "key",
    ["aula [parte 1].mp4", "a,b.mp4", "x|y.mp4", "fim....mp4", "tab\tname.mp4", "linha\nnova.mp4"],
)
def test_keys_dagster_rejects_are_slugged_with_a_hash(key):
    partition_key = partition_key_for(key)
    assert partition_key != key
    assert HASH_SEPARATOR in partition_key
    assert is_valid_partition_key(partition_key)
    readable = partition_key.rsplit(HASH_SEPARATOR, 1)[0]
    assert readable[0] == key[0] and readable.endswith(key[-4:])


def test_dagster_accepts_the_slugged_keys_in_a_dynamic_partition(tmp_path):
    keys = [partition_key_for(k) for k in ["aula [1].mp4", "a,b|c.mp4", "x...y.mp4", "ç ã é.mp4"]]
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("videos", keys)
        assert set(instance.get_dynamic_partitions("videos")) == set(keys)


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        partition_key_for("  ")
