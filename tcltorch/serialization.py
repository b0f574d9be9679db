"""Files of tensors and checkpoints, written atomically and read without running code.

Pure Python and PyTorch (nothing here knows Tcl); every refusal is a :class:`SerializationError`
(a ``ValueError``) that names the file and the problem; an operating-system error while opening,
reading or writing is a :class:`FileAccessError` that keeps its ``errno``.

Writes (:func:`atomic_save`, :func:`atomic_write`) go to a temporary file in the target's
directory (``.NAME.tmp-PID-RANDOM``, created with ``O_EXCL``), which is flushed, fsynced and then
renamed over the target: the rename is the commit point.  Before it, a failure or a
``KeyboardInterrupt`` leaves the old file as it was (the temporary file is removed); from the
rename on, Ctrl-C is deferred and the save completes and returns normally.  Temporary files of the
same target left by a process that no longer runs are removed by the next save.  Only a regular,
writable file is replaced (a FIFO, device node or socket, or a file without write permission, is
refused); the new file keeps the old one's permission bits (and its owner, where allowed).

Reads (:func:`safe_load`) never run code from the file (``torch.load(weights_only=True)``); the
zip archive's declared sizes are checked first (a zip bomb is refused before anything is
inflated), then the CRC-32 of every record, so a damaged file is refused, not loaded.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import re
import secrets
import signal
import stat
import sys
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

__all__ = [
    "MAX_INFLATION",
    "MMAP_MIN_BYTES",
    "TENSOR_EXTENSIONS",
    "CorruptFileError",
    "FileAccessError",
    "NotMappableError",
    "SerializationError",
    "UnsafeFileError",
    "atomic_save",
    "atomic_write",
    "check_zip_sizes",
    "load_npy",
    "load_safetensors",
    "load_tensor",
    "readable_path",
    "remove_stale_temps",
    "safe_load",
    "save_npy",
    "save_safetensors",
    "save_tensor",
    "tensor_format",
    "verify_checksums",
]


class SerializationError(ValueError):
    """A file that cannot be written or read as asked; ``file`` is the name as given, ``problem``
    what is wrong with it (``str()`` of the error is ``"FILE: PROBLEM"``)."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


class FileAccessError(SerializationError):
    """The operating system refused to ``verb`` (open, read, write) the file: ``errno`` says why."""

    def __init__(self, file: str, verb: str, code: int | None) -> None:
        self.errno = code or errno.EIO
        self.verb = verb
        self.reason = os.strerror(self.errno).lower()
        super().__init__(file, f"couldn't {verb}: {self.reason}")


class CorruptFileError(SerializationError):
    """Not a file of the expected format, or a truncated or damaged one."""


class UnsafeFileError(SerializationError):
    """A file refused for what it would do when read: run code, or inflate without bound."""


class NotMappableError(SerializationError):
    """A file asked to be memory-mapped (``mmap=True``) whose tensor cannot be: the problem says
    why; reading it into memory (``mmap=False``) works."""


def _access(file: str, exc: OSError, verb: str) -> FileAccessError:
    return FileAccessError(file, verb, exc.errno)


def _corrupt(file: str) -> CorruptFileError:
    return CorruptFileError(file, "is not a PyTorch file, or it is truncated or corrupt")


def expand(file: str) -> str:
    """The path of a file name (``~`` expanded); an empty name is refused."""
    if not file.strip():
        raise SerializationError(file, "must be a file name")
    return os.path.expanduser(file)


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(file: str, mode: int) -> SerializationError:
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    return SerializationError(file, f"is {kind}, not a regular file")


def readable_path(file: str) -> str:
    """The path of ``file`` when it is a regular file that exists; otherwise the error saying why
    (a FIFO is refused, not opened: opening it would block)."""
    path = expand(file)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _access(file, exc, "open") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileAccessError(file, "open", errno.EISDIR)
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(file, info.st_mode)
    return path


# -- writing ----------------------------------------------------------------------------------


def _serialize(obj: Any, stream: Any) -> None:
    """Write ``obj`` to an open binary stream (the one place torch.save is called)."""
    torch.save(obj, stream)


class _Writer:
    """The binary stream a serializer writes to: ``os.write`` on a file descriptor, keeping the
    exception of a failed write (an OSError, or a KeyboardInterrupt that landed in it).  torch's
    zip writer swallows that and reports a bare ``[enforce fail at inline_container.cc] ...``;
    with it kept, a full disk reads "no space left on device" and Ctrl-C stays an interrupt."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.error: BaseException | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except BaseException as exc:
            self.error = exc
            raise
        return total

    def flush(self) -> None:
        pass


_TEMP_TAIL = re.compile(r"(\d+)-[0-9a-f]{8}")  # PID-RANDOM after ".NAME.tmp-"


def _temp_name(base: str) -> str:
    return f".{base}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we wrote: leave the file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    try:  # a killed process that nobody has reaped yet is no writer either
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def remove_stale_temps(directory: str, base: str) -> list[str]:
    """Remove the temporary files of target ``base`` whose writing process no longer runs
    (a save killed with SIGKILL, or a crash); returns the names removed."""
    prefix = f".{base}.tmp-"
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        if not name.startswith(prefix):
            continue
        found = _TEMP_TAIL.fullmatch(name[len(prefix) :])
        if found is None or _pid_alive(int(found.group(1))):
            continue
        full = os.path.join(directory, name)
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
                removed.append(name)
        except OSError:
            pass
    return removed


def _writable(existing: os.stat_result, path: str) -> bool:
    """Whether the file may be replaced: writable by this process (root: a write bit is set)."""
    if os.geteuid() == 0:
        return bool(existing.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return os.access(path, os.W_OK)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """A signal-safe section: SIGINT that arrives inside it is recorded (in the yielded list), not
    raised.  Only the main thread can hold signals back; elsewhere the section is plain."""
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except (ValueError, OSError, TypeError):  # no Python-level signal handling here
        yield pending
        return
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


_TORCH_WRITER = re.compile(r"enforce fail|PytorchStreamWriter|inline_container", re.IGNORECASE)


def atomic_write(file: str, write: Callable[[Any], None]) -> str:
    """Write a file through ``write(stream)`` so that it is either the old file or the complete
    new one; returns the path written (a symbolic link's target is replaced, the link is kept).

    Refused (nothing written): an empty name, a directory, a target that is not a regular file, a
    target without write permission.  An interrupt before the rename leaves the old file and
    propagates; one after it is too late to stop the save, which completes."""
    path = expand(file)
    if os.path.islink(path):  # replace the file the link points to, keep the link
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    if not base:
        raise SerializationError(file, "must name a file, not a directory")
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _access(file, exc, "write") from None
    if existing is not None:
        if stat.S_ISDIR(existing.st_mode):
            raise FileAccessError(file, "write", errno.EISDIR)
        if not stat.S_ISREG(existing.st_mode):
            raise _not_regular(file, existing.st_mode)
        if not _writable(existing, path):
            raise FileAccessError(file, "write", errno.EACCES)
    remove_stale_temps(directory, base)
    tmp = None
    try:
        try:
            for _ in range(100):
                candidate = os.path.join(directory, _temp_name(base))
                try:
                    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                except FileExistsError:
                    continue
                tmp = candidate
                break
            else:
                raise FileExistsError(errno.EEXIST, "could not create a temporary file")
            _fill(fd, existing, write, file)
        except BaseException:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise
        _commit(tmp, path, directory)
    except OSError as exc:
        raise _access(file, exc, "write") from None
    return path


def _fill(fd: int, existing: os.stat_result | None, write: Callable[[Any], None], file: str) -> None:
    """Write the temporary file: its permissions (and owner) those of the file it replaces, the
    data, an fsync; the descriptor is closed on every way out."""
    writer = _Writer(fd)
    try:
        if existing is not None:  # a replaced file keeps its permissions and, where allowed, owner
            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):
                    os.fchown(fd, existing.st_uid, existing.st_gid)
        try:
            write(writer)
        except RuntimeError as exc:
            if writer.error is not None:  # the write that failed, not torch's garbled report
                raise writer.error from None
            if _TORCH_WRITER.search(str(exc)):
                raise SerializationError(file, "could not be written: PyTorch's file writer failed") from None
            raise
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(tmp: str, path: str, directory: str) -> None:
    """Rename the complete temporary file over the target: the commit point.  Ctrl-C is held back
    around it; the rename either happened (the save succeeded) or not (the temporary file is
    removed and a held-back interrupt is raised: the old file is intact)."""
    done = False
    with deferred_interrupts() as pending:
        try:
            os.replace(tmp, path)
            done = True
        except KeyboardInterrupt:
            done = not os.path.exists(tmp)  # raised by the rename's caller after it returned
            if not done:
                pending.append(signal.SIGINT)
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    if not done and pending:
        raise KeyboardInterrupt
    if done:
        with contextlib.suppress(KeyboardInterrupt):  # too late to stop the save
            _fsync_directory(directory)


def atomic_save(obj: Any, file: str, serialize: Callable[[Any, Any], None] | None = None) -> str:
    """Save ``obj`` to ``file`` atomically (see :func:`atomic_write`); ``serialize(obj, stream)``
    writes it (default: ``torch.save``).  Returns the path written."""
    return atomic_write(file, lambda stream: (serialize or _serialize)(obj, stream))


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ----------------------------------------------------------------------------------

MAX_INFLATION = 64
"""A zip archive may declare at most this many times its own size (plus 1 MiB) uncompressed:
torch stores its records uncompressed, so a larger ratio is a zip bomb, refused unread."""

_SLACK = 1 << 20


def check_zip_sizes(archive: zipfile.ZipFile, size: int, file: str) -> None:
    """Refuse an archive whose records declare more data than :data:`MAX_INFLATION` times the
    archive's ``size`` (bytes), before anything is inflated."""
    declared = sum(info.file_size for info in archive.infolist())
    if declared > MAX_INFLATION * size + _SLACK:
        raise UnsafeFileError(
            file,
            f"refused: its records declare {declared} bytes uncompressed in a file of {size} bytes "
            f"(more than {MAX_INFLATION} times its size: a zip bomb)",
        )


def verify_checksums(stream: Any, file: str) -> None:
    """Check the declared sizes (:func:`check_zip_sizes`) and then the CRC-32 of every record of a
    zip-format PyTorch file (torch.load never does).  A file in torch's legacy (pre-1.6, not zip)
    format has no checksums; torch.load judges it."""
    _check_zip(stream, file)


def _check_zip(stream: Any, file: str) -> bool | None:
    """:func:`verify_checksums`; then None for a file that is not a zip archive (torch's legacy
    format), else whether every record is stored uncompressed (what torch can map)."""
    try:
        if not zipfile.is_zipfile(stream):
            return None
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            check_zip_sizes(archive, size, file)
            stored = all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, SerializationError):
            raise
        raise _corrupt(file) from None
    except OSError as exc:
        raise _access(file, exc, "read") from None
    finally:
        stream.seek(0)
    if bad is not None:
        raise CorruptFileError(file, f'is corrupt: its record "{bad}" does not match its checksum (CRC-32)')
    return stored


_REFUSED = re.compile(r"WeightsUnpickler error:\s*(.*?)(?:\s+was not an allowed global|\.\s|\n|$)", re.DOTALL)


def _same_file(stream: Any, path: str) -> str:
    """A name that opens the very file ``stream`` has open (``/proc/self/fd/N`` where there is
    one), for readers that take a name: what they read is what was checked."""
    name = f"/proc/self/fd/{stream.fileno()}"
    return name if os.path.exists(name) else path


@contextlib.contextmanager
def _private_maps() -> Iterator[None]:
    """torch.load(mmap=True) maps copy-on-write (MAP_PRIVATE), whatever a caller set as default:
    an in-place change of a loaded tensor must never reach the file."""
    private = getattr(__import__("mmap"), "MAP_PRIVATE", None)
    if private is None or torch.serialization.get_default_mmap_options() == private:
        yield
        return
    with torch.serialization.set_default_mmap_options(private):
        yield


def safe_load(file: str, mmap: bool | None = False) -> Any:
    """``torch.load`` with ``weights_only=True`` onto the CPU; every failure a SerializationError.

    Only a regular file is read (a FIFO would block for ever), and its zip records' sizes and
    checksums are verified before anything in it is unpickled.

    ``mmap=True`` maps the file copy-on-write instead of reading its tensors into memory
    (``torch.load(mmap=True)``): only a zip-format file whose records are stored uncompressed
    can be, another raises :class:`NotMappableError`; ``mmap=None`` maps such a file and reads
    any other into memory."""
    path = readable_path(file)
    try:
        stream = open(path, "rb")  # noqa: SIM115 - opened apart, so that only its errors read "couldn't open"
    except OSError as exc:
        raise _access(file, exc, "open") from None
    with stream:
        stored = _check_zip(stream, file)
        if mmap and not stored:
            raise NotMappableError(
                file,
                "cannot be memory-mapped: "
                + (
                    "it is in PyTorch's legacy (pre-1.6, not zip) format"
                    if stored is None
                    else "its records are compressed"
                ),
            )
        mapped = bool(stored) and mmap is not False
        try:
            with warnings.catch_warnings(), _private_maps():
                warnings.simplefilter("ignore")
                if mapped:
                    return torch.load(
                        _same_file(stream, path), map_location="cpu", weights_only=True, mmap=True
                    )
                return torch.load(stream, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            text = str(exc)
            found = _REFUSED.search(text)
            detail = found.group(1).strip() if found else ""
            if "Weights only load failed" in text and not detail.startswith("Unsupported operand"):
                # An operand the restricted unpickler does not know means a damaged or foreign
                # file; anything else (a global, a class, a call) is code it refused to run.
                detail = f" ({detail})" if detail else ""
                raise UnsafeFileError(
                    file,
                    "refused: the file holds Python objects other than tensors and plain data, "
                    f"which could run code{detail}",
                ) from None
            raise _corrupt(file) from None
        except Exception:  # noqa: BLE001 - whatever a damaged file makes the reader raise
            raise _corrupt(file) from None


# -- tensor files -----------------------------------------------------------------------------

TENSOR_EXTENSIONS = (".npy", ".safetensors", ".pt", ".pth")


def tensor_format(file: str) -> str:
    """``.npy``, ``.safetensors`` or ``.pt`` (for ``.pt`` and ``.pth``), from the file's extension."""
    ext = os.path.splitext(file)[1].lower()
    if ext not in TENSOR_EXTENSIONS:
        raise SerializationError(
            file, "must end in .npy, .safetensors or .pt (the extension chooses the format)"
        )
    return ".pt" if ext == ".pth" else ext


def save_safetensors(tensors: dict[str, torch.Tensor], file: str) -> str:
    """Save named tensors as a ``.safetensors`` file (atomically); tied tensors are copied apart."""
    from safetensors.torch import save

    plain = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    data = save(plain)
    return atomic_save(data, file, serialize=lambda blob, stream: stream.write(blob))


def load_safetensors(file: str) -> dict[str, torch.Tensor]:
    """Every tensor of a ``.safetensors`` file, read into memory."""
    from safetensors.torch import load

    path = readable_path(file)
    try:
        with open(path, "rb") as stream:
            blob = stream.read()
    except OSError as exc:
        raise _access(file, exc, "read") from None
    try:
        return dict(load(blob))
    except Exception:  # noqa: BLE001 - whatever a damaged file makes the reader raise
        raise CorruptFileError(file, "is not a valid .safetensors file") from None


def save_npy(tensor: torch.Tensor, file: str) -> str:
    """Save a tensor as NumPy's ``.npy`` (no pickles; bfloat16 has no NumPy type and is refused)."""
    t = tensor.detach().cpu()
    if t.dtype == torch.bfloat16:
        raise SerializationError(file, ".npy has no bfloat16: use .safetensors or .pt")
    array = t.resolve_conj().resolve_neg().contiguous().numpy()
    return atomic_save(array, file, serialize=lambda a, stream: np.save(stream, a, allow_pickle=False))


def _safetensors_one(file: str, mmap: bool | None) -> torch.Tensor:
    """The one tensor of a ``.safetensors`` file (or the one named ``tensor``).  Mapped
    (``mmap`` True or None): safetensors' own ``safe_open``, which maps the file copy-on-write
    (nothing is read until used).  Not mapped: the tensor's bytes read straight into new memory
    (the file is never held in memory twice).  The header is checked by safetensors either way
    (offsets, sizes, a truncated file)."""
    path = readable_path(file)
    if mmap is not False:
        return _safetensors_open(file, path)[1]
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; its errors read "couldn't open"
    except OSError as exc:
        raise _access(file, exc, "open") from None
    with stream:  # the header checked is the one of the file read
        name, tensor = _safetensors_open(file, _same_file(stream, path))
        try:  # the bytes the header names, read into new memory; the map is left unread
            length = int.from_bytes(stream.read(8), "little")
            start, end = json.loads(stream.read(length))[name]["data_offsets"]
            stream.seek(8 + length + start)
            # a NumPy buffer: NumPy asks for huge pages, which fill twice as fast as torch.empty's
            data = np.empty(end - start, dtype=np.uint8)
            if data.size and stream.readinto(memoryview(data)) != data.size:
                raise CorruptFileError(file, "is truncated")
        except OSError as exc:
            raise _access(file, exc, "read") from None
    if not data.size:
        return torch.empty(tensor.shape, dtype=tensor.dtype)
    return torch.from_numpy(data).view(tensor.dtype).reshape(tensor.shape)


def _safetensors_open(file: str, path: str) -> tuple[str, torch.Tensor]:
    """(name, tensor) of the one tensor in a .safetensors file, mapped by ``safe_open``."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as reader:
            names = list(reader.keys())
            name = "tensor" if "tensor" in names else names[0] if len(names) == 1 else None
            if name is None:
                listed = " ".join(sorted(names)) or "none"
                raise SerializationError(
                    file, f"holds {len(names)} tensors ({listed}), not one: use torch::load_state_dict"
                )
            return name, reader.get_tensor(name)  # a copy-on-write map of the file
    except SerializationError:
        raise
    except OSError as exc:
        raise _access(file, exc, "read") from None
    except Exception:  # noqa: BLE001 - whatever a damaged file makes the reader raise
        raise CorruptFileError(file, "is not a valid .safetensors file") from None


_NATIVE = ("=", "|", "<" if sys.byteorder == "little" else ">")


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _map_npy(file: str, path: str) -> torch.Tensor | None:
    """A ``.npy`` file's array as a tensor over a copy-on-write map of the whole file, made by
    torch (``UntypedStorage.from_file``: unlike a NumPy memmap it keeps no file descriptor open,
    so any number of mapped tensors may live).  The header is read by NumPy's own parser.  None
    when NumPy's loader must decide instead: a header it reads apart (version 3), numbers in the
    other byte order or of a type torch lacks, data not aligned for its type, a damaged or
    truncated file (whose error NumPy's loader then gives)."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; its errors read "couldn't open"
    except OSError as exc:
        raise _access(file, exc, "open") from None
    with stream:
        try:
            reader = _NPY_HEADERS.get(np.lib.format.read_magic(stream))
            if reader is None:
                return None
            shape, fortran, dtype = reader(stream)
            offset = stream.tell()
            size = os.fstat(stream.fileno()).st_size
        except OSError as exc:
            raise _access(file, exc, "read") from None
        except Exception:  # noqa: BLE001 - a damaged header: NumPy's loader says so
            return None
        itemsize = dtype.itemsize
        if dtype.kind not in "biufc" or dtype.byteorder not in _NATIVE or not itemsize or offset % itemsize:
            return None
        count = 1
        for extent in shape:
            count *= extent
        if count < 0 or min(shape, default=0) < 0 or offset + count * itemsize > size:
            return None  # a negative extent, or truncated
        try:
            kind = torch.from_numpy(np.empty(0, dtype=dtype)).dtype
        except TypeError:
            return None
        strides, step = [], 1
        for extent in shape if fortran else reversed(shape):
            strides.append(step)
            step *= max(extent, 1)
        if not fortran:
            strides.reverse()
        storage = torch.UntypedStorage.from_file(_same_file(stream, path), False, size)
    return torch.empty(0, dtype=kind).set_(storage, offset // itemsize, shape, strides)


def load_npy(file: str, mmap: bool | None = False) -> torch.Tensor:
    """A ``.npy`` file of numbers as a tensor (object arrays and dtypes torch lacks are refused).

    ``mmap=True`` maps the file copy-on-write (MAP_PRIVATE, by torch; where torch's map does not
    apply, by ``np.load(mmap_mode="c")``): nothing is read until used, and an in-place change of
    the tensor stays in this process, never reaching the file.  Numbers in the other byte order
    cannot be mapped (:class:`NotMappableError`); with ``mmap=None`` such a file is read into
    memory, others are mapped.  A Fortran-ordered array maps to a tensor with column-major
    strides; read into memory, it is made C-contiguous."""
    path = readable_path(file)
    if mmap is not False:
        mapped = _map_npy(file, path)
        if mapped is not None:
            return mapped
    try:
        array = np.load(path, mmap_mode=None if mmap is False else "c", allow_pickle=False)
    except OSError as exc:
        raise _access(file, exc, "read") from None
    except Exception:  # noqa: BLE001
        raise CorruptFileError(file, "is not a valid .npy file of numbers") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
        raise CorruptFileError(file, "is not a valid .npy file of numbers")
    mapped = isinstance(array, np.memmap)
    if array.dtype.byteorder not in _NATIVE:
        if mmap:
            order = "big" if sys.byteorder == "little" else "little"
            raise NotMappableError(
                file,
                f"cannot be memory-mapped: its numbers are {order}-endian, which torch cannot read in place",
            )
        array = array.astype(array.dtype.newbyteorder("="))  # a copy in memory, in this machine's order
        mapped = False
    if not mapped and not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    try:
        return torch.from_numpy(array)  # np.load's own fresh array, or the copy-on-write map
    except TypeError:
        raise SerializationError(
            file, f"holds numbers of NumPy type {array.dtype.name}, which torch has no type for"
        ) from None


def save_tensor(tensor: torch.Tensor, file: str) -> str:
    """Save one tensor in the format the extension names (``.safetensors``: under ``tensor``)."""
    fmt = tensor_format(file)
    if fmt == ".npy":
        return save_npy(tensor, file)
    if fmt == ".safetensors":
        return save_safetensors({"tensor": tensor}, file)
    return atomic_save(tensor.detach().cpu().clone(), file)


MMAP_MIN_BYTES = 1 << 20
"""By default (``mmap=None``) :func:`load_tensor` maps files of at least this many bytes and reads
smaller ones into memory (a map costs a kernel mapping each, and saves nothing on a small file)."""


def load_tensor(file: str, mmap: bool | None = None) -> torch.Tensor:
    """Load one tensor from a ``.npy``, ``.safetensors`` (one tensor, or one named ``tensor``) or
    ``.pt`` file (read with ``weights_only=True``).

    ``mmap=True``: the file is memory-mapped copy-on-write (MAP_PRIVATE): nothing is read until
    the tensor is used, pages are shared with the page cache, and an in-place change of the
    tensor copies the page it touches, never writing the file.  A file that cannot be mapped
    raises :class:`NotMappableError` (a ``.npy`` in the other byte order, a ``.pt`` in the
    legacy format or with compressed records).  ``mmap=False``: read into memory, once.
    ``mmap=None`` (default): mapped when the file has at least :data:`MMAP_MIN_BYTES` and its
    format allows, else read.

    A mapped tensor reads the file while it lives: replacing the file (rename, as every save of
    this module does) or removing it leaves the tensor as it was loaded, but rewriting the file
    in place (truncate and write) shows through, and reading pages past a truncated end raises
    SIGBUS (as with ``np.load(mmap_mode=...)`` and ``safetensors.safe_open``)."""
    fmt = tensor_format(file)
    if mmap is None:
        with contextlib.suppress(OSError):
            if os.stat(expand(file)).st_size < MMAP_MIN_BYTES:
                mmap = False
    if fmt == ".npy":
        return load_npy(file, mmap)
    if fmt == ".safetensors":
        return _safetensors_one(file, mmap)
    obj = safe_load(file, mmap)
    if not isinstance(obj, torch.Tensor):
        raise SerializationError(file, "does not hold a tensor")
    return obj
