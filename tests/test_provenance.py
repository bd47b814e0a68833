"""ffld.provenance: the record every result and checkpoint carries is plain data."""

import json
import subprocess
import sys

from ffld.checkpoint import load_state, save_state
from ffld.provenance import provenance


def test_provenance_is_plain_data_that_checkpoints_can_hold(tmp_path):
    record = provenance("cpu", ["ffld", "test"])
    assert record["command"] == "ffld test" and {"commit", "device", "versions", "date"} <= set(record)
    assert all(type(value) is str for value in record["versions"].values())  # not torch's TorchVersion
    assert json.loads(json.dumps(record)) == record
    save_state(tmp_path / "state.pt", {"metadata": {"provenance": record}})
    assert load_state(tmp_path / "state.pt")["metadata"]["provenance"] == record  # weights_only=True


def test_the_command_of_a_module_run_names_the_module(tmp_path):
    package = tmp_path / "somepackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("from ffld.provenance import current_command\nprint(current_command())\n")
    output = subprocess.run(
        [sys.executable, "-m", "somepackage", "bench", "--count", "3"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert output.strip() == str(["python", "-m", "somepackage", "bench", "--count", "3"])


def test_git_commit_marks_changed_tracked_files_and_knows_no_checkout(tmp_path, monkeypatch):
    import ffld.provenance

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

    monkeypatch.setattr(ffld.provenance, "REPOSITORY", tmp_path)
    monkeypatch.delenv("FFLD_COMMIT", raising=False)
    assert ffld.provenance.git_commit() == "unknown"  # not a checkout
    monkeypatch.setenv("FFLD_COMMIT", "0123abc\n")  # a copy of a checkout (a device machine): named, marked
    assert ffld.provenance.git_commit() == "0123abc (FFLD_COMMIT)"
    git("init", "-q")
    (tmp_path / "tracked.txt").write_text("one\n")
    git("add", "tracked.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")
    assert ffld.provenance.git_commit() == head  # a checkout's own commit wins over FFLD_COMMIT
    (tmp_path / "untracked.txt").write_text("new\n")  # untracked files do not change what was run
    assert ffld.provenance.git_commit() == head
    (tmp_path / "tracked.txt").write_text("two\n")
    assert ffld.provenance.git_commit() == f"{head}+dirty"
