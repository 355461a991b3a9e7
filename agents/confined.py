"""Reading files that must be regular files inside a folder, with a size limit checked before reading.

A leaderboard submission is data confined to its folder, and a policy's spec and weights are read from
theirs. Every path is opened one component at a time below the folder without following symbolic links
(``O_NOFOLLOW``) and without blocking on a FIFO (``O_NONBLOCK``), and its content is read only once
``lstat`` and ``fstat`` both say it is a regular file no larger than the limit. So a file cannot make
the reader follow a link to another folder's weights or a system file, read ``/dev/zero`` forever, hang
on a pipe, or load more than the limit into memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

KIB, MIB = 1 << 10, 1 << 20
MAX_DEPTH = 8  # folders below a submission's own; its per-scenario specs need one or two
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class UnsafeFileError(ValueError):
    """A file is not a regular file inside its folder, or is too large; the message says which and why."""


def size_text(n: int) -> str:
    """A size limit for a message: 64 MiB, 1 KiB."""
    return f"{n / MIB:g} MiB" if n >= MIB else f"{n / KIB:g} KiB" if n >= KIB else f"{n} bytes"


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, for an error message."""
    kinds = [(stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def relative_parts(rel: object, what: str) -> tuple[str, ...]:
    """The components of a relative path that cannot leave its folder (no '..', not absolute, not empty)."""
    parts = PurePosixPath(rel).parts if isinstance(rel, str) and "\0" not in rel else ()
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise UnsafeFileError(f"{what} {rel!r} must be a relative path inside its folder (no '..', not absolute)")
    return parts


def read_confined(folder: str | Path, rel: str, limit: int, what: str = "file") -> bytes:
    """The bytes of ``folder/rel``, which must be a regular file of at most ``limit`` bytes reached from
    ``folder`` through real directories only; UnsafeFileError (or FileNotFoundError) otherwise."""
    parts = relative_parts(rel, what)
    path = Path(folder, *parts)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))  # the folder itself is given
    try:
        for i, name in enumerate(parts):
            here = Path(folder, *parts[: i + 1])
            try:
                mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, f"{what} {path} not found", str(path)) from None
            last = i == len(parts) - 1
            if not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
                raise UnsafeFileError(f"{what} {here} is {kind_of(mode)}: only regular files inside the folder are read")
            try:
                nxt = os.open(name, _OPEN | (0 if last else os.O_DIRECTORY), dir_fd=fd)
            except OSError as e:  # replaced since the lstat above
                raise UnsafeFileError(f"{what} {here} cannot be opened safely: {e.strerror}") from None
            os.close(fd)
            fd = nxt
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{what} {path} is {kind_of(st.st_mode)}: only regular files inside the folder are read")
        if st.st_size > limit:
            raise UnsafeFileError(f"{what} {path} is {st.st_size:,} bytes, more than the {size_text(limit)} allowed")
        chunks, n = [], 0
        while n <= limit and (chunk := os.read(fd, min(limit + 1 - n, 1 << 20))):
            chunks.append(chunk)
            n += len(chunk)
        if n > limit:
            raise UnsafeFileError(f"{what} {path} grew past the {size_text(limit)} allowed while it was read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def list_confined(folder: str | Path, max_files: int, max_bytes: int, what: str = "folder") -> list[tuple[str, int]]:
    """(relative path, size) of every file under ``folder``, sorted; UnsafeFileError if any entry is not a
    regular file or a real directory, or if there are more than ``max_files`` files or ``max_bytes`` in all."""
    found: list[tuple[tuple[str, ...], int]] = []

    def walk(parts: tuple[str, ...]) -> None:
        if len(parts) > MAX_DEPTH:
            raise UnsafeFileError(f"{Path(folder, *parts)} is nested more than {MAX_DEPTH} folders deep")
        with os.scandir(Path(folder, *parts)) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    walk((*parts, e.name))
                elif stat.S_ISREG(st.st_mode):
                    found.append(((*parts, e.name), st.st_size))
                    if len(found) > max_files:
                        raise UnsafeFileError(f"{what} {folder} holds more than {max_files} files")
                else:
                    raise UnsafeFileError(f"{Path(e.path)} is {kind_of(st.st_mode)}: a {what} holds only regular files and folders")

    walk(())
    total = sum(size for _, size in found)
    if total > max_bytes:
        raise UnsafeFileError(f"{what} {folder} holds {total:,} bytes, more than the {size_text(max_bytes)} allowed")
    return [("/".join(parts), size) for parts, size in sorted(found)]
