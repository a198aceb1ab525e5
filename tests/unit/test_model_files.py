"""Model files are assembled from package parts once and refused when their sha256 is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.devstack.model_files import ModelFile, ModelFileError, ensure_model_file


def _parts(tmp_path: Path) -> tuple[Path, ModelFile]:
    packages = tmp_path / "packages"
    for i, chunk in enumerate([b"GGUF-part-one|", b"part-two"], start=1):
        (packages / f"pkg{i}" / "data").mkdir(parents=True)
        (packages / f"pkg{i}" / "data" / "part.bin").write_bytes(chunk)
    digest = hashlib.sha256(b"GGUF-part-one|part-two").hexdigest()
    model = ModelFile("tiny.gguf", digest, ("pkg1/data/part.bin", "pkg2/data/part.bin"))
    return packages, model


def test_parts_are_concatenated_in_order_and_verified(tmp_path: Path) -> None:
    packages, model = _parts(tmp_path)
    path = ensure_model_file(model, packages, tmp_path / "models")
    assert path.read_bytes() == b"GGUF-part-one|part-two"
    # a second start reuses the assembled file
    (packages / "pkg1" / "data" / "part.bin").unlink()
    assert ensure_model_file(model, packages, tmp_path / "models") == path


def test_a_tampered_model_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    packages, model = _parts(tmp_path)
    path = ensure_model_file(model, packages, tmp_path / "models")
    path.write_bytes(b"something else")
    with pytest.raises(ModelFileError, match="sha256") as error:
        ensure_model_file(model, packages, tmp_path / "models")
    assert str(path) in str(error.value) and model.sha256 in str(error.value)


def test_missing_packages_say_how_to_install_them(tmp_path: Path) -> None:
    _, model = _parts(tmp_path)
    with pytest.raises(ModelFileError, match="make setup"):
        ensure_model_file(model, tmp_path / "nowhere", tmp_path / "models")
