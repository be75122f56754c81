"""The embedded index shared by the processes on one data directory: the first to open it owns the
shards and serves them on a socket only its user may open; the others' reads and writes go through
it and see each other's at once; when the owner closes, or is killed mid-way, the next caller takes
the index over with everything the owner had taken."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


KEEPER = "The lighthouse keeper is Ottilie Brandvold."
FERRY = "The ferry leaves from pier nineteen at dawn."


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def found(retriever, store_id: str, query: str) -> list[str]:
    return [hit.file_id for hit in retriever.search([store_id], query, max_num_results=3)]


def test_a_second_retriever_reads_and_writes_through_the_owner(make_retriever, tmp_path):
    data = tmp_path / "vectors"
    owner, other = make_retriever("edge", data), make_retriever("edge", data)
    assert owner.index.owner and not other.index.owner
    socket_path = data / "index.sock"
    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600

    other.ingest_file("vs_1", "file-a", write(tmp_path / "a.txt", KEEPER))
    assert found(owner, "vs_1", "Who keeps the lighthouse?") == ["file-a"]
    owner.ingest_file("vs_1", "file-b", write(tmp_path / "b.txt", FERRY))
    assert found(other, "vs_1", "Where does the ferry leave from?")[0] == "file-b"
    assert other.index.count("vs_1") == owner.index.count("vs_1") == 2

    other.delete_file("vs_1", "file-b")
    assert found(owner, "vs_1", "Where does the ferry leave from?") == ["file-a"]


def test_the_next_caller_owns_the_index_when_the_owner_closes(make_retriever, tmp_path):
    data = tmp_path / "vectors"
    owner, other = make_retriever("edge", data), make_retriever("edge", data)
    owner.ingest_file("vs_1", "file-a", write(tmp_path / "a.txt", KEEPER))
    owner.close()
    assert found(other, "vs_1", "Who keeps the lighthouse?") == ["file-a"]
    assert other.index.owner
    third = make_retriever("edge", data)
    third.ingest_file("vs_1", "file-b", write(tmp_path / "b.txt", FERRY))
    assert found(other, "vs_1", "Where does the ferry leave from?")[0] == "file-b"


def test_a_killed_owners_writes_are_kept_by_the_next_owner(make_retriever, tmp_path):
    data = tmp_path / "vectors"
    source = write(tmp_path / "a.txt", KEEPER)
    program = textwrap.dedent(
        f"""
        import sys, time
        from retrieval import RetrievalConfig, Retriever
        r = Retriever(RetrievalConfig(data_dir={str(data)!r}))
        r.index.upsert  # opens the index: this process owns it
        r.ingest_file("vs_1", "file-a", {str(source)!r})
        print("ingested", r.index.owner, flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-c", program]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout.readline().split() == ["ingested", "True"]
            other = make_retriever("edge", data)
            assert not other.index.owner
            assert found(other, "vs_1", "Who keeps the lighthouse?") == ["file-a"]  # through the child
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            assert found(other, "vs_1", "Who keeps the lighthouse?") == ["file-a"]  # from the shards
            assert other.index.owner
        finally:
            child.kill()  # the sleeping owner of a failed test
