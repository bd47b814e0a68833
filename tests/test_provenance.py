"""ffld.provenance: the record every result and checkpoint carries is plain data."""

import json

from ffld.checkpoint import load_state, save_state
from ffld.provenance import provenance


def test_provenance_is_plain_data_that_checkpoints_can_hold(tmp_path):
    record = provenance("cpu", ["ffld", "test"])
    assert record["command"] == "ffld test" and {"commit", "device", "versions", "date"} <= set(record)
    assert all(type(value) is str for value in record["versions"].values())  # not torch's TorchVersion
    assert json.loads(json.dumps(record)) == record
    save_state(tmp_path / "state.pt", {"metadata": {"provenance": record}})
    assert load_state(tmp_path / "state.pt")["metadata"]["provenance"] == record  # weights_only=True
