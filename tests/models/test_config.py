import json
from dataclasses import asdict

import pytest

from streammem.models.conformer_ntm import CONFIGS as ASR_CONFIGS
from streammem.models.conformer_ntm import make_config
from streammem.models.memotr.config import resolve_config as memotr_config


def test_named_dict_and_object_configs_agree_and_overrides_apply():
    tiny = make_config("tiny")
    assert tiny == ASR_CONFIGS["tiny"]
    assert make_config(asdict(tiny)) == tiny
    assert make_config(tiny, memory_addressing="full").memory_addressing == "full"


def test_unknown_name_and_field_are_errors_naming_the_model():
    with pytest.raises(ValueError, match="unknown conformer_ntm config 'huge'"):
        make_config("huge")
    with pytest.raises(ValueError, match="unknown conformer_ntm config fields: bogus"):
        make_config("tiny", bogus=1)


def test_json_round_trip_restores_tuple_fields():
    tiny = memotr_config("tiny")
    from_json = memotr_config(json.loads(json.dumps(asdict(tiny))))
    assert from_json == tiny and isinstance(from_json.clip_lengths, tuple)
