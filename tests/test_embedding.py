"""The offline embedder: the fused all-MiniLM-L6-v2 graph built from its safetensors computes the model
(checked against a plain numpy forward pass of the same weights), its cache, and the int8 fallback."""

from __future__ import annotations

import json
import math
import struct
import sys

import numpy as np
import pytest

from bot.local import embedding, minilm_graph

TEXTS = ["A function can run for at most 15 minutes.", "How do I install packages in R?",
         "The plains zebra lives in herds on the grasslands of East Africa."]


def _numpy_minilm(weights: dict, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """all-MiniLM-L6-v2's forward pass written out in numpy (BERT: post-LayerNorm, erf GELU), mean-pooled."""
    def w(name):
        return weights[name].astype(np.float64)

    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w(p + ".weight") + w(p + ".bias")

    def dense(x, p):
        return x @ w(p + ".weight").T + w(p + ".bias")

    erf = np.frompyfunc(math.erf, 1, 1)
    b, s = ids.shape
    x = w("embeddings.word_embeddings.weight")[ids] + w("embeddings.position_embeddings.weight")[:s] \
        + w("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :]) * -1e9
    for i in range(6):
        p = f"encoder.layer.{i}."
        q, k, v = (dense(x, p + f"attention.self.{n}").reshape(b, s, 12, 32).transpose(0, 2, 1, 3)
                   for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(32) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        x = ln(dense(ctx.transpose(0, 2, 1, 3).reshape(b, s, 384), p + "attention.output.dense") + x,
               p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2)).astype(np.float64))
        x = ln(dense(h, p + "output.dense") + x, p + "output.LayerNorm")
    m = mask[..., None]
    pooled = (x * m).sum(1) / m.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def weights_path():
    _, tokenizer = embedding._paths()
    return tokenizer.parent / "model.safetensors"


def test_the_fused_graph_computes_all_minilm_l6_v2(weights_path, tmp_path_factory):
    e = embedding.OnnxEmbedder(cache_dir=tmp_path_factory.mktemp("models"))
    assert e.model_id == embedding.MODEL_ID and embedding.INT8_MODEL_ID in e.compatible_models
    tok = e._tokenizer
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(TEXTS)
    ids = np.array([x.ids for x in enc])
    mask = np.array([x.attention_mask for x in enc], dtype=np.float64)
    reference = _numpy_minilm(minilm_graph.read_safetensors(weights_path), ids, mask)
    ours = e.embed(TEXTS)
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    assert np.min(np.sum(ours * reference, axis=1)) > 0.9999
    # the int8 graph is the same network: close, not equal
    int8 = embedding.OnnxEmbedder(embedding._paths()[0], model_id=embedding.INT8_MODEL_ID)
    cos = np.sum(int8.embed(TEXTS) * reference, axis=1)
    assert 0.99 < cos.min() and cos.max() < 0.99999
    # padding does not change a text's vector (batched with longer texts or alone)
    assert np.allclose(e.embed_one(TEXTS[1]), ours[1], atol=1e-5)


def test_the_built_graph_is_cached_and_reused(weights_path, tmp_path, monkeypatch):
    first = minilm_graph.cached_model(weights_path, tmp_path)
    assert first == minilm_graph.cached_path(weights_path, tmp_path) and first.stat().st_size > 80_000_000

    def no_build(path):
        raise AssertionError("built again")

    monkeypatch.setattr(minilm_graph, "build_model_bytes", no_build)
    assert minilm_graph.cached_model(weights_path, tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary file left behind


def test_without_the_onnx_package_the_int8_graph_is_used(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    model, tokenizer, model_id = embedding.default_model(tmp_path)
    assert model == embedding._paths()[0] and model_id == embedding.INT8_MODEL_ID and tokenizer.is_file()
    e = embedding.OnnxEmbedder(cache_dir=tmp_path)
    assert e.model_id == embedding.INT8_MODEL_ID and embedding.MODEL_ID in e.compatible_models
    # no onnx, no quantized graph to build: passages are embedded with the int8 graph itself
    assert e.document_model_id == embedding.INT8_MODEL_ID
    assert np.array_equal(e.embed_documents(TEXTS), e.embed(TEXTS)) and e.embed(TEXTS).shape == (3, 384)


def test_passages_are_embedded_with_the_quantized_graph_close_to_the_fp32_one(tmp_path, monkeypatch):
    e = embedding.OnnxEmbedder(cache_dir=tmp_path)
    assert e.document_model_id == embedding.DOCUMENT_MODEL_ID and e.document_model_id in e.compatible_models
    passages = [TEXTS[0], TEXTS[2], "R packages are installed with install.packages() from CRAN mirrors or local files."]
    fp32, int8 = e.embed(passages), e.embed_documents(passages)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cos = np.sum(int8 * fp32, axis=1)
    assert 0.98 < cos.min() and cos.max() < 0.99999  # another graph, the same network
    # questions embedded in fp32 find their passage among the int8 vectors
    questions = np.stack([e.embed_one(q) for q in ("How long can a function run?", "What is install.packages for?",
                                                    "Where do zebras live?")])
    assert np.argmax(questions @ int8.T, axis=1).tolist() == np.argmax(questions @ fp32.T, axis=1).tolist() == [0, 2, 1]
    # built once, beside the fp32 graph; another embedder on the same cache loads it
    built = sorted(p.name for p in tmp_path.iterdir())
    assert len(built) == 2 and any(n.endswith("-int8.onnx") for n in built)

    def no_build(model):
        raise AssertionError("quantized again")

    monkeypatch.setattr(minilm_graph, "quantize_bytes", no_build)
    again = embedding.OnnxEmbedder(cache_dir=tmp_path)
    assert np.allclose(again.embed_documents(passages), int8, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == built


def test_an_explicit_model_embeds_passages_with_itself():
    e = embedding.OnnxEmbedder(embedding._paths()[0], model_id=embedding.INT8_MODEL_ID)
    assert e.document_model_id == e.model_id and np.array_equal(e.embed_documents(TEXTS), e.embed(TEXTS))


def test_read_safetensors(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([7, 8], dtype=np.int64)
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}, "__metadata__": {"format": "pt"}}
    raw = json.dumps(header).encode()
    (tmp_path / "t.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    got = minilm_graph.read_safetensors(tmp_path / "t.safetensors")
    assert set(got) == {"a", "b"} and np.array_equal(got["a"], a) and np.array_equal(got["b"], b)


def test_when_the_int8_graph_cannot_be_built_passages_use_the_fp32_one(tmp_path, monkeypatch):
    def broken(model):
        raise RuntimeError("quantizer failed")

    monkeypatch.setattr(minilm_graph, "quantize_bytes", broken)
    e = embedding.OnnxEmbedder(cache_dir=tmp_path)
    assert np.array_equal(e.embed_documents(TEXTS), e.embed(TEXTS))
    assert e.document_model_id == e.model_id == embedding.MODEL_ID
