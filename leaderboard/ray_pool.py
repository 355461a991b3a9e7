"""Leaderboard evaluation sharded over a Ray cluster: ``orbit-env leaderboard --ray-address ADDR``.

Each of the evaluator's workers becomes a Ray actor (one CPU) somewhere on the cluster, and the actor
starts the very same isolated ``python -m leaderboard.worker`` subprocess there (a
``leaderboard.evaluate.WorkerProcess`` on its node) and relays its JSON lines. On this machine a
``RayWorker`` stands where the local subprocess would: the evaluator sends tasks to it, selects on its
file descriptor (a pipe a relay thread fills with the remote worker's output), notices its death or
time-out and records rows in the local store exactly as it does for a local worker, so the rows are the
same: the worker, the seeds and the batches are. The remote worker's first line names the env hash it
imported, so a node running another version of the env stops the evaluation instead of recording.

A submission's folder is shipped to the node: its files are read here as the evaluator reads them to
hash them (``agents.confined``: regular files inside the folder, size limited), written into a private
temporary folder on the node, and the task names that folder, so the remote worker reads the policy
files confined to it as a local worker does. Every node needs the same orbit-env installed (docs/ray.md);
the bounds of a paired suite are still solved on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Sequence

try:
    import ray
except ImportError:  # connect() says what to install
    ray = None

from agents.confined import UnsafeFileError, list_confined, read_confined, relative_parts
from agents.learned import WEIGHTS_LIMIT
from leaderboard.entries import MAX_FILES, MAX_FOLDER_BYTES
from leaderboard.evaluate import WorkerProcess, worker_command

LOCAL = "local"  # --ray-address local: start a Ray instance on this machine
RELAY_BYTES = 1 << 16  # one read of the remote worker's output, as WorkerProcess.read takes them


def connect(address: str | None = LOCAL, num_cpus: int | None = None) -> int:
    """Connect to the Ray cluster at ``address`` (``auto``: the one this machine has joined; ``local`` or
    None: start an instance here with ``num_cpus``, default the machine's) unless connected; its CPUs."""
    if ray is None:
        raise ValueError('running on Ray needs the ray extra: pip install -e ".[ray]"')
    if not ray.is_initialized():
        local = address in (None, LOCAL)
        ray.init(address=None if local else address, num_cpus=num_cpus if local else None, include_dashboard=False, log_to_driver=False)
    return int(ray.cluster_resources().get("CPU", 0))


def folder_files(folder: str) -> dict[str, bytes]:
    """Every file of a submission folder by relative path, read as ``entries.folder_hash`` reads them."""
    return {rel: read_confined(folder, rel, WEIGHTS_LIMIT, "submission file") for rel, _ in list_confined(folder, MAX_FILES, MAX_FOLDER_BYTES, "submission folder")}


class RemoteWorker:
    """The Ray actor: a local ``WorkerProcess`` on its node, plus the submission folders shipped to it."""

    def __init__(self, cmd: list[str] | None):
        self.proc = WorkerProcess(cmd or worker_command())  # this node's interpreter unless a wrapper was given
        self.root = Path(tempfile.mkdtemp(prefix="orbit-env-submissions-"))
        self.folders: dict[str, str] = {}  # the evaluator's folder -> its copy here

    def receive(self, folder: str, files: dict[str, bytes]) -> None:
        """Write a submission folder's files into a fresh private folder on this node."""
        copy = Path(tempfile.mkdtemp(dir=self.root))
        for rel, data in files.items():
            path = copy.joinpath(*relative_parts(rel, "submission file"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.folders[folder] = str(copy)

    def write(self, line: bytes) -> bool:
        """Pass a task line to the worker, its submission folder renamed to this node's copy."""
        task = json.loads(line)
        folder = task["entry"].get("folder")
        if folder:
            task["entry"]["folder"] = self.folders[folder]
        return self.proc.write((json.dumps(task) + "\n").encode())

    def read(self) -> bytes:
        """The worker's next output (blocking); empty once it has ended."""
        try:
            return os.read(self.proc.fileno(), RELAY_BYTES)
        except OSError:  # closed while waiting
            return b""

    def death(self) -> str:
        return self.proc.death()

    def kill(self) -> None:
        self.proc.kill()

    def close(self) -> None:
        self.proc.close()
        shutil.rmtree(self.root, ignore_errors=True)


class RayWorker(WorkerProcess):
    """A ``RemoteWorker`` actor behind the interface of a local ``WorkerProcess`` (the evaluator's)."""

    actor_class = None  # RemoteWorker as a Ray actor class, made once a process

    def __init__(self, cmd: Sequence[str]):
        if RayWorker.actor_class is None:
            RayWorker.actor_class = ray.remote(num_cpus=1, max_concurrency=4)(RemoteWorker)
        self.buf, self.ready, self.task, self.started, self.built = b"", False, None, 0.0, False
        self.actor = RayWorker.actor_class.remote(None if list(cmd) == worker_command() else list(cmd))
        self.shipped: set[str] = set()
        self.out, relay_end = os.pipe()
        self.relay = threading.Thread(target=self._relay, args=(relay_end,), daemon=True)
        self.relay.start()

    def _relay(self, fd: int) -> None:
        """Copy the remote worker's output into the pipe until it ends (or its actor does)."""
        try:
            while data := ray.get(self.actor.read.remote()):
                while data:
                    data = data[os.write(fd, data) :]
        except (ray.exceptions.RayError, OSError):
            pass
        finally:
            os.close(fd)

    def fileno(self) -> int:
        return self.out

    def write(self, data: bytes) -> bool:
        """Ship the task's submission folder to the actor once, then the task; False if the actor is gone."""
        folder = json.loads(data)["entry"].get("folder")
        try:
            if folder and folder not in self.shipped:
                try:
                    files = folder_files(folder)
                except (OSError, UnsafeFileError):  # changed since it was read: the worker finds no policy and says so
                    files = {}
                ray.get(self.actor.receive.remote(folder, files))
                self.shipped.add(folder)
            return ray.get(self.actor.write.remote(data))
        except ray.exceptions.RayError:
            return False

    def death(self) -> str:
        try:
            return ray.get(self.actor.death.remote(), timeout=30)
        except ray.exceptions.RayError as e:
            return f"the Ray actor running the worker died ({type(e).__name__})"

    def kill(self) -> None:
        try:
            ray.get(self.actor.kill.remote(), timeout=30)
        except ray.exceptions.RayError:
            pass

    def close(self) -> None:
        """Stop the remote worker and its actor, and release the pipe."""
        try:
            ray.get(self.actor.close.remote(), timeout=10)
        except ray.exceptions.RayError:
            pass
        ray.kill(self.actor)
        self.relay.join(timeout=30)
        os.close(self.out)
