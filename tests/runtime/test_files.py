"""Files through the official SDK: upload, list, retrieve, download, delete, size limits."""

import io

import openai
import pytest

from tests.support.server import Server


def test_upload_list_retrieve_download_delete(server, client):
    payload = b"col\n" + b"1\n" * 1000
    created = client.files.create(file=("numbers.csv", payload), purpose="assistants")
    assert created.id.startswith("file-") and created.object == "file"
    assert (created.filename, created.bytes, created.purpose, created.status) == (
        "numbers.csv",
        len(payload),
        "assistants",
        "processed",
    )
    other = client.files.create(file=("notes.txt", b"hi"), purpose="user_data")

    assert client.files.retrieve(created.id).model_dump() == created.model_dump()
    assert client.files.content(created.id).read() == payload
    ids = {f.id for f in client.files.list()}
    assert {created.id, other.id} <= ids
    assert {f.id for f in client.files.list(purpose="user_data")} >= {other.id}
    assert created.id not in {f.id for f in client.files.list(purpose="user_data")}

    stored = server.data_dir / "files" / created.id
    assert stored.read_bytes() == payload
    assert client.files.delete(created.id).deleted
    assert not stored.exists()  # the bytes are gone
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)


@pytest.mark.parametrize("purpose", ["assistants_output", "nonsense", ""])
def test_bad_purpose_is_rejected_and_nothing_kept(server, client, purpose):
    before = set((server.data_dir / "files").iterdir())
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("a.txt", b"a"), purpose=purpose)
    assert err.value.body["param"] == "purpose"
    assert set((server.data_dir / "files").iterdir()) == before


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))


class Zeros(io.RawIOBase):
    """A file-like of `size` zero bytes, read in chunks so the client never holds it whole."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self.left)
        buf[:n] = b"\0" * n
        self.left -= n
        return n


def test_large_upload_streams_to_disk_and_oversize_is_rejected(tmp_path):
    limit = 512 * 1024 * 1024
    with Server(tmp_path / "data") as srv:
        client = srv.client(timeout=300)
        rss_before = _peak_rss_kib(srv.proc.pid)
        big = client.files.create(
            file=("big.bin", io.BufferedReader(Zeros(limit), 1 << 20)), purpose="assistants"
        )
        assert big.bytes == limit
        assert (srv.data_dir / "files" / big.id).stat().st_size == limit
        grown_mib = (_peak_rss_kib(srv.proc.pid) - rss_before) / 1024
        assert grown_mib < 128, f"server memory grew {grown_mib:.0f} MiB for a 512 MiB upload"

        with pytest.raises(openai.APIStatusError) as err:
            client.files.create(
                file=("huge.bin", io.BufferedReader(Zeros(limit + 1), 1 << 20)), purpose="assistants"
            )
        assert err.value.status_code == 413
        assert "ASSISTD_MAX_UPLOAD_BYTES" in err.value.body["message"]
        assert sorted(p.name for p in (srv.data_dir / "files").iterdir()) == [big.id]
