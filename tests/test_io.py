import json
import os

import pytest

from g2rpo.io import write_bytes_atomic, write_json_atomic, write_text_atomic


def test_writes_replace_whole_file_and_leave_no_temp(tmp_path):
    target = tmp_path / "sub" / "state.json"
    write_json_atomic(target, {"step": 1, "name": "é"})
    write_json_atomic(target, {"step": 2})
    assert json.loads(target.read_text(encoding="utf-8")) == {"step": 2}
    assert sorted(os.listdir(target.parent)) == ["state.json"]
    write_text_atomic(target, "plain")
    assert target.read_text() == "plain"


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    write_bytes_atomic(target, b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_fsync_is_called_on_file(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    write_text_atomic(tmp_path / "x.txt", "hello")
    assert len(calls) >= 1
