"""SASRec-family causal transformer over a shopper's item sequence, with item representations
that fuse learned id embeddings and a projection of pretrained text vectors.

Reading order (nanoGPT style): config -> blocks -> model (``encode`` = the user half,
``item_matrix`` = the item half, ``loss`` = training loss). Training lives in
:mod:`shoprec.models.sasrec_recommender` (``fit``, through :mod:`shoprec.models.train_loop`;
DP-SGD through :mod:`shoprec.training.dp`), the checkpointed training run in
:mod:`shoprec.training.sasrec_job`; the no-autograd serving half in
:mod:`shoprec.models.sasrec_infer`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Upper edges (days) of the gap buckets between an item and the one before it.
GAP_EDGES_DAYS = np.array([0.0, 1.0, 3.0, 7.0, 30.0, 90.0, 365.0])
#: bucket ids: 0 padding, 1 first item / unknown time, 2.. the gap buckets (last = longer)
N_GAP_BUCKETS = len(GAP_EDGES_DAYS) + 3


def gap_buckets(timestamps: np.ndarray) -> np.ndarray:
    """Bucket id of the time since the previous item, per item ``(L,)`` int64 (first = 1)."""
    ts = np.asarray(timestamps, dtype=np.float64)
    out = np.ones(len(ts), dtype=np.int64)
    if len(ts) > 1:
        days = np.maximum(np.diff(ts), 0.0) / 86400.0
        out[1:] = 2 + np.searchsorted(GAP_EDGES_DAYS, days, side="left")
    return out


@dataclass(frozen=True)
class SASRecConfig:
    """Hyper-parameters of :class:`SASRec` and its training.

    Attributes
    ----------
    max_len : items of history read per user (the most recent ones).
    dim : width of item and hidden vectors.
    n_layers, n_heads : transformer depth and attention heads.
    dropout : dropout on embeddings, attention and feed-forward.
    use_text : add a learned projection of the frozen text vectors to each item's embedding;
        items with no interactions are then still scored through their text.
    use_id : learn a free id embedding per item (off = text-only items).
    text_dropout : dropout applied to the text projection during training.
    loss : ``"ce"`` full softmax over the catalog, or ``"sampled"`` softmax over
        ``n_negatives`` uniformly drawn items plus the target.
    n_negatives : negatives per position for the sampled loss.
    temperature : logits are divided by it (both losses and at serving).
    lr, weight_decay, batch_size, epochs, patience : optimisation; early stopping on
        validation NDCG@10 after ``patience`` evaluations without improvement.
    eval_every : epochs between validation passes.
    time_gaps : add an embedding of the time since the previous item (bucketed) to every
        position; it tells the model which items were bought together in one sitting.
    id_min_count : items seen fewer times than this in the training data are represented by
        their text alone (their id embedding is switched off, in training and at serving): a
        barely trained id vector is noise that buries a rare or brand-new item (needs use_text).
    id_dropout : during training, switch off each item's id embedding with this probability
        (per batch), so that the text half alone learns to place every item (DropoutNet-style).
    seed : random seed (weights, batches, dropout).
    num_threads : torch threads while training (0 = the process's count: ``SHOPREC_THREADS``,
        else the free cores). Results are bit-for-bit reproducible only for the same thread
        count. The device (CPU or CUDA) is ``SHOPREC_DEVICE``; the model returns to the CPU
        after training, where serving scores it with numpy.
    """

    max_len: int = 50
    dim: int = 64
    n_layers: int = 2
    n_heads: int = 2
    dropout: float = 0.5
    use_text: bool = True
    use_id: bool = True
    text_dropout: float = 0.1
    loss: str = "ce"
    n_negatives: int = 256
    temperature: float = 1.0
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    epochs: int = 200
    patience: int = 5
    eval_every: int = 2
    time_gaps: bool = False
    id_min_count: int = 0
    id_dropout: float = 0.0
    seed: int = 42
    num_threads: int = 0

    def __post_init__(self) -> None:
        if self.dim % self.n_heads:
            raise ValueError("dim must be divisible by n_heads")
        if self.loss not in {"ce", "sampled"}:
            raise ValueError("loss must be 'ce' or 'sampled'")
        if not (self.use_id or self.use_text):
            raise ValueError("at least one of use_id, use_text")
        if not all(0.0 <= p < 1.0 for p in (self.dropout, self.text_dropout, self.id_dropout)):
            raise ValueError("dropout in [0, 1)")
        if (self.id_min_count > 0 or self.id_dropout > 0) and not (self.use_text and self.use_id):
            raise ValueError("id_min_count and id_dropout need both use_text and use_id")
        if self.max_len < 1 or self.dim < 1 or self.n_layers < 1 or self.temperature <= 0:
            raise ValueError("max_len, dim, n_layers and temperature must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


class Block(nn.Module):
    """Pre-LayerNorm causal self-attention + feed-forward, both residual."""

    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.ln2 = nn.LayerNorm(cfg.dim)
        self.fc1 = nn.Linear(cfg.dim, 4 * cfg.dim)
        self.fc2 = nn.Linear(4 * cfg.dim, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.p = cfg.dropout

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape  # (B, T, C)
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)  # (B, H, T, C/H)
        k = k.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
        v = v.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
        # causal mask; left padding keys are masked out as well (pad: (B, T) True = padding)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        mask = causal[None, None] & ~pad[:, None, None, :]
        # a fully padded row would give NaN: let it attend to itself
        mask = mask | torch.eye(T, dtype=torch.bool, device=x.device)[None, None]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.fc2(self.drop(F.gelu(self.fc1(self.ln2(x))))))
        return x


class SASRec(nn.Module):
    """Causal transformer; ``encode(seq)`` -> user vectors, ``item_matrix()`` -> item vectors,
    score = ``user @ items.T / temperature``.

    Parameters
    ----------
    cfg : the config.
    n_items : catalog size (internal ids 1..n_items, 0 = padding).
    text_vectors : ``(n_items + 1, D_text)`` float32 frozen text vectors (row 0 zeros), or None.
    """

    # registered buffers (declared for the type checker: Module.__getattr__ is untyped)
    id_gate: torch.Tensor
    text_vectors: torch.Tensor

    def __init__(
        self, cfg: SASRecConfig, n_items: int, text_vectors: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_items = n_items
        if cfg.use_text and text_vectors is None:
            raise ValueError("use_text needs text_vectors")
        self.item_emb = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0) if cfg.use_id else None
        # 1 = the item's id embedding is used, 0 = text only (see id_min_count; set_item_counts)
        self.register_buffer("id_gate", torch.ones(n_items + 1), persistent=True)
        if cfg.use_text:
            assert text_vectors is not None
            self.register_buffer("text_vectors", text_vectors.float(), persistent=True)
            self.text_proj = nn.Linear(text_vectors.shape[1], cfg.dim, bias=False)
            self.text_drop = nn.Dropout(cfg.text_dropout)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.dim)
        self.gap_emb = (
            nn.Embedding(N_GAP_BUCKETS, cfg.dim, padding_idx=0) if cfg.time_gaps else None
        )
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def set_item_counts(self, counts: np.ndarray) -> None:
        """Switch off the id embedding of items seen fewer than ``id_min_count`` times."""
        if self.cfg.id_min_count > 0:
            gate = torch.from_numpy(np.asarray(counts) >= self.cfg.id_min_count).float()
            self.id_gate.copy_(gate)

    def item_matrix(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Item vectors ``(n_items + 1, C)`` (or for ``ids``); row 0 is padding (zero)."""
        out = None
        if self.item_emb is not None:
            out = self.item_emb.weight if ids is None else self.item_emb(ids)
            gate = self.id_gate if ids is None else self.id_gate[ids]
            if self.training and self.cfg.id_dropout > 0:
                gate = gate * (torch.rand_like(gate) >= self.cfg.id_dropout)
            if self.cfg.id_min_count > 0 or (self.training and self.cfg.id_dropout > 0):
                out = out * gate[..., None]
        if self.cfg.use_text:
            tv = self.text_vectors if ids is None else self.text_vectors[ids]
            t = self.text_drop(self.text_proj(tv))
            out = t if out is None else out + t
        assert out is not None
        if ids is None:
            out = torch.cat([torch.zeros_like(out[:1]), out[1:]], dim=0)
        return out

    def encode(
        self,
        seq: torch.Tensor,
        items: torch.Tensor | None = None,
        gaps: torch.Tensor | None = None,
        rows: bool = False,
    ) -> torch.Tensor:
        """Hidden state at every position ``(B, T, C)`` for left-padded ``seq`` ``(B, T)``.

        ``items`` may pass a precomputed :meth:`item_matrix` to avoid recomputing it; ``gaps``
        ``(B, T)`` are :func:`gap_buckets` ids (used when ``time_gaps``; None = unknown).
        ``rows``: look item and position vectors up per row instead (same result), so that every
        layer sees batch-first inputs: what per-user gradients (DP training) need.
        """
        B, T = seq.shape
        pad = seq == 0
        positions = torch.arange(self.cfg.max_len - T, self.cfg.max_len, device=seq.device)
        if rows:
            x = self.item_matrix(seq) * math.sqrt(self.cfg.dim)  # (B, T, C)
            x = x + self.pos_emb(positions.expand(B, T))
        else:
            items = self.item_matrix() if items is None else items
            x = items[seq] * math.sqrt(self.cfg.dim)  # (B, T, C)
            x = x + self.pos_emb(positions)[None]
        if self.gap_emb is not None:
            x = x + self.gap_emb(gaps if gaps is not None else (~pad).long())
        x = self.emb_drop(x) * (~pad)[..., None]
        for block in self.blocks:
            x = block(x, pad)
        return self.ln_f(x)

    def user_vectors(self, seq: torch.Tensor) -> torch.Tensor:
        """The last position's hidden state ``(B, C)``: the user representation."""
        return self.encode(seq)[:, -1, :]

    def scores(self, seq: torch.Tensor) -> torch.Tensor:
        """Scores over the whole catalog ``(B, n_items + 1)``."""
        items = self.item_matrix()
        return self.encode(seq, items)[:, -1, :] @ items.T / self.cfg.temperature

    def loss_per_user(
        self,
        seq: torch.Tensor,
        targets: torch.Tensor,
        negatives: torch.Tensor,
        gaps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sampled-softmax loss of each row ``(B,)`` (mean over its positions), every vector
        looked up per row: one user's loss depends on nothing of another's, so per-user
        gradients exist (:mod:`shoprec.training.dp`). ``negatives`` ``(B, K)`` per row."""
        h = self.encode(seq, gaps=gaps, rows=True)  # (B, T, C)
        pos = (h * self.item_matrix(targets)).sum(-1, keepdim=True)  # (B, T, 1)
        neg = h @ self.item_matrix(negatives).transpose(1, 2)  # (B, T, K)
        neg = neg.masked_fill(negatives[:, None, :] == targets[..., None], float("-inf"))
        logits = torch.cat([pos, neg], dim=-1) / self.cfg.temperature
        nll = -F.log_softmax(logits, dim=-1)[..., 0]  # (B, T)
        keep = (targets > 0).float()
        return (nll * keep).sum(1) / keep.sum(1).clamp(min=1.0)

    def loss(
        self, seq: torch.Tensor, targets: torch.Tensor, gaps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean next-item loss over non-padding positions; ``seq``, ``targets`` ``(B, T)``."""
        items = self.item_matrix()
        h = self.encode(seq, items, gaps)  # (B, T, C)
        keep = targets > 0
        h, tgt = h[keep], targets[keep]  # (N, C), (N,)
        if self.cfg.loss == "ce":
            logits = h @ items.T / self.cfg.temperature  # (N, I + 1)
            logits[:, 0] = float("-inf")
            return F.cross_entropy(logits, tgt)
        neg = torch.randint(1, self.n_items + 1, (self.cfg.n_negatives,), device=h.device)
        pos_logit = (h * items[tgt]).sum(-1, keepdim=True)  # (N, 1)
        neg_logit = h @ items[neg].T  # (N, K) shared negatives
        neg_logit = neg_logit.masked_fill(neg[None, :] == tgt[:, None], float("-inf"))
        logits = torch.cat([pos_logit, neg_logit], dim=1) / self.cfg.temperature
        return F.cross_entropy(logits, torch.zeros(len(tgt), dtype=torch.long, device=h.device))
