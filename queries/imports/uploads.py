"""Files uploaded on the import page, kept under their SHA-256 with who uploaded them.

The page sends a file's bytes to POST /import/upload (dashboard/import_upload.py), which writes them to
<import dir>/.incoming as they arrive; <import dir>/<sha256>/<file name> then holds them as received; <sha256>/uploads.json lists who uploaded
them and when (the same file uploaded by two people is kept once, with both). The page keeps only the
hash in the browser; the server opens an upload for a user who uploaded it, never for anyone else."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from werkzeug.utils import secure_filename

from queries.engine.settings import Settings
from queries.imports.importer import ImportError_

SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
BLOCK = 1 << 20  # bytes read from the request and written to disk at a time


@dataclass(frozen=True)
class Upload:
    sha256: str
    path: Path          # the file, under its own (made safe) name
    size: int


def import_dir(settings: Settings) -> Path | None:
    """ATMP_IMPORT_DIR, or <file>.imports next to a DuckDB file; None with PostgreSQL and no setting."""
    if settings.import_dir:
        return Path(settings.import_dir)
    return settings.beside_duckdb_file(".imports")


def safe_name(file_name) -> str:
    """The file's name made safe (no path, no odd characters), or an ImportError_ for one the import
    cannot read."""
    name = secure_filename(file_name) if isinstance(file_name, str) else ""
    if not name or not name.lower().endswith(SUFFIXES):
        shown = file_name if isinstance(file_name, str) and file_name else "the file"
        raise ImportError_([f"{str(shown)[:120]}: unsupported file type (use .csv, .xlsx or .parquet)"])
    return name


def receive(folder: Path, stream: BinaryIO, file_name, user_id: str, max_bytes: int,
            announced: int | None = None) -> Upload:
    """Write an upload's bytes to disk as they arrive (memory holds one block), hashing them on the way,
    then keep them under their hash (once) and note who uploaded them. A file larger than ``max_bytes``
    (as announced, or as it turns out), empty, or of another type is an ImportError_ and nothing stays."""
    name = safe_name(file_name)
    too_large = ImportError_([f"{name}: larger than {max_bytes // 1_000_000} MB; import it with `atmp-hub "
                              "import` or the drop folder (or raise ATMP_IMPORT_MAX_MB)"])
    if announced is not None and announced > max_bytes:
        raise too_large
    incoming = folder / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / f"{uuid.uuid4().hex}.partial"
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for block in iter(lambda: stream.read(BLOCK), b""):
                size += len(block)
                if size > max_bytes:
                    raise too_large
                digest.update(block)
                out.write(block)
        if size == 0:
            raise ImportError_([f"{name}: the file is empty"])
        return _keep(folder, partial, digest.hexdigest(), name, user_id, size)
    finally:
        partial.unlink(missing_ok=True)


def _keep(folder: Path, partial: Path, sha: str, name: str, user_id: str, size: int) -> Upload:
    """The received bytes under <folder>/<sha>/<name> (kept once: a reader never sees half a file), and
    who uploaded them."""
    home = folder / sha
    home.mkdir(parents=True, exist_ok=True)
    path = home / name
    if not path.exists():
        os.replace(partial, path)
    with open(home / "uploads.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log = home / "uploads.json"
        entries = json.loads(log.read_text()) if log.exists() else []
        entries.append({"user_id": user_id, "file": name, "at": datetime.now(UTC).isoformat(timespec="seconds")})
        log.write_text(json.dumps(entries, indent=1))
    return Upload(sha, path, size)


def find(folder: Path, sha, file_name, user_id: str) -> Upload | None:
    """The upload with this hash and name if ``user_id`` uploaded it; None for anything else (a forged or
    another user's hash, a name with a path in it)."""
    if not isinstance(sha, str) or not SHA256.match(sha) or not isinstance(file_name, str):
        return None
    if secure_filename(file_name) != file_name:
        return None
    log, path = folder / sha / "uploads.json", folder / sha / file_name
    if not log.is_file() or not path.is_file():
        return None
    if not any(e.get("user_id") == user_id and e.get("file") == file_name for e in json.loads(log.read_text())):
        return None
    return Upload(sha, path, path.stat().st_size)


def progress_path(uploaded: Path, user_id: str) -> Path:
    """Where a dry run or an import of this uploaded file by this user notes how far it has read (the
    page's progress bar reads it; every worker process of the host sees the same file)."""
    return uploaded.parent / f"progress-{hashlib.sha256(user_id.encode()).hexdigest()[:16]}.json"


def write_progress(path: Path, step: str, rows: int, total: int | None) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"step": step, "rows": rows, "total": total}))
    os.replace(partial, path)  # a reader never sees half of it


def read_progress(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
