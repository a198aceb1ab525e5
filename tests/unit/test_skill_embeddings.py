"""The numpy all-MiniLM-L6-v2 reproduces sentence-transformers and refuses altered model files."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from activities.skills.embeddings import (
    MODEL_SUBDIR,
    PINNED_SHA256,
    EmbeddingModelError,
    SentenceEncoder,
    erf,
)
from services.settings import Settings

PACKAGES_DIR = Settings(_env_file=None).packages_dir

# the sentence-transformers quickstart's similarities for all-MiniLM-L6-v2
REFERENCE_SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
]
REFERENCE_SIMILARITIES = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.load(PACKAGES_DIR)


def _model_copy(tmp_path: Path, altered: str) -> Path:
    """A packages dir whose model has a private copy of `altered`; the rest are symlinks."""
    source = PACKAGES_DIR / MODEL_SUBDIR
    target = tmp_path / "packages" / MODEL_SUBDIR
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.name == altered:
            shutil.copyfile(path, target / path.name)
        else:
            (target / path.name).symlink_to(path)
    return tmp_path / "packages"


def test_similarities_match_the_published_reference(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(REFERENCE_SENTENCES)
    for (i, j), expected in REFERENCE_SIMILARITIES.items():
        assert float(vectors[i] @ vectors[j]) == pytest.approx(expected, abs=0.002)


def test_rows_are_unit_length_float32(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode([*REFERENCE_SENTENCES, "", "x"])
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_padding_in_a_batch_does_not_change_an_embedding(encoder: SentenceEncoder) -> None:
    texts = [
        "a",
        "Write SQL queries that aggregate sales by month or customer, then explain the totals.",
        *REFERENCE_SENTENCES,
    ]
    one_at_a_time = np.concatenate([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(encoder.encode(texts), one_at_a_time, atol=1e-5)


def test_texts_longer_than_the_model_takes_are_truncated(encoder: SentenceEncoder) -> None:
    long_text = "the skill chooser reads this sentence again " * 200
    truncated = encoder.encode([long_text, long_text + " and a different ending"])
    assert truncated.shape == (2, 384)
    np.testing.assert_allclose(truncated[0], truncated[1], atol=1e-5)  # the tail is cut off


def test_no_texts_make_no_rows_and_a_bare_string_is_refused(encoder: SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode("one string")


def test_erf_matches_the_standard_library_to_a_millionth() -> None:
    points = np.linspace(-6, 6, 20_001, dtype=np.float32)
    expected = np.array([math.erf(float(x)) for x in points])
    assert np.abs(erf(points) - expected).max() < 1e-6


def test_a_corrupted_model_file_is_refused_by_name(tmp_path: Path) -> None:
    packages = _model_copy(tmp_path, "model.safetensors")
    weights = packages / MODEL_SUBDIR / "model.safetensors"
    with weights.open("r+b") as file:
        file.seek(50_000_000)
        byte = file.read(1)
        file.seek(50_000_000)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EmbeddingModelError, match="make setup") as error:
        SentenceEncoder.load(packages)
    message = str(error.value)
    assert str(weights) in message and PINNED_SHA256["model.safetensors"] in message


def test_a_changed_tokenizer_is_refused_by_name(tmp_path: Path) -> None:
    packages = _model_copy(tmp_path, "tokenizer.json")
    tokenizer = packages / MODEL_SUBDIR / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    with pytest.raises(EmbeddingModelError, match="tokenizer.json: sha256") as error:
        SentenceEncoder.load(packages)
    assert PINNED_SHA256["tokenizer.json"] in str(error.value)


def test_a_missing_model_file_names_the_file(tmp_path: Path) -> None:
    packages = _model_copy(tmp_path, "model.safetensors")
    (packages / MODEL_SUBDIR / "model.safetensors").unlink()
    with pytest.raises(EmbeddingModelError, match=r"model\.safetensors: missing; run `make setup`"):
        SentenceEncoder.load(packages)
