"""The serving half of SASRec: a user's latest items -> a user vector, in plain numpy.

No autograd, no torch dispatch: for one 50-item history a 2-block model is a few dozen small
BLAS calls (well under a millisecond). Only the last position's output is needed, so the last
block computes one query row. Scores equal :meth:`SASRec.scores` to float32 precision.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import cast

import numpy as np
from scipy.special import erf

from shoprec.models.sasrec import GAP_EDGES_DAYS, Block, SASRec, gap_buckets
from shoprec.models.scoring import add_text_lift


def _ln(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    # sums over the width, not .mean(): the same numbers without numpy's Python-level wrapper
    c = x.shape[-1]
    xc = x - x.sum(-1, keepdims=True) / c
    var = (xc * xc).sum(-1, keepdims=True) / c
    return xc / np.sqrt(var + eps) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _gap_rows(timestamps: np.ndarray) -> np.ndarray:
    """:func:`gap_buckets` of each row of ``timestamps`` ``(B, T)``, in one pass."""
    ts = np.asarray(timestamps, dtype=np.float64)
    out = np.ones(ts.shape, dtype=np.int64)
    if ts.shape[1] > 1:
        days = np.maximum(np.diff(ts, axis=1), 0.0) / 86400.0
        out[:, 1:] = 2 + np.searchsorted(GAP_EDGES_DAYS, days, side="left")
    return out


class SASRecEncoder:
    """Frozen numpy copy of a trained :class:`SASRec` for per-request user vectors.

    Parameters
    ----------
    model : the trained network (its weights are copied; later training does not leak in).
    """

    def __init__(self, model: SASRec) -> None:
        import torch

        model.eval()
        cfg = model.cfg
        self.max_len, self.dim, self.n_heads = cfg.max_len, cfg.dim, cfg.n_heads
        self.temperature = cfg.temperature
        with torch.inference_mode():
            self.items = model.item_matrix().numpy().astype(np.float32).copy()  # (I + 1, C)
            self.items_scaled = self.items * np.float32(math.sqrt(cfg.dim))
            self.pos = model.pos_emb.weight.numpy().astype(np.float32).copy()  # (max_len, C)
            self.blocks = []
            for module in model.blocks:
                b = cast(Block, module)  # a ModuleList yields plain Modules to the type checker
                self.blocks.append(
                    {
                        "ln1_w": b.ln1.weight.numpy().copy(),
                        "ln1_b": b.ln1.bias.numpy().copy(),
                        "qkv_w": b.qkv.weight.numpy().T.copy(),
                        "qkv_b": b.qkv.bias.numpy().copy(),
                        "proj_w": b.proj.weight.numpy().T.copy(),
                        "proj_b": b.proj.bias.numpy().copy(),
                        "ln2_w": b.ln2.weight.numpy().copy(),
                        "ln2_b": b.ln2.bias.numpy().copy(),
                        "fc1_w": b.fc1.weight.numpy().T.copy(),
                        "fc1_b": b.fc1.bias.numpy().copy(),
                        "fc2_w": b.fc2.weight.numpy().T.copy(),
                        "fc2_b": b.fc2.bias.numpy().copy(),
                    }
                )
            self.gap = None if model.gap_emb is None else model.gap_emb.weight.numpy().copy()
            self.text_proj = (
                model.text_proj.weight.numpy().T.copy() if model.cfg.use_text else None
            )  # (D_text, C): an item the model never saw is placed by its text alone
            self.lnf_w = model.ln_f.weight.numpy().copy()
            self.lnf_b = model.ln_f.bias.numpy().copy()
        self.bias: np.ndarray | None = None  # additive score term per item (logit adjustment)
        #: the text lift (beta, neighbour ids, sims): SASRecRecommender.set_text_lift's term
        self.text_lift: tuple[float, np.ndarray, np.ndarray] | None = None
        L = self.max_len
        self._causal = np.triu(np.full((L, L), -np.inf, dtype=np.float32), 1)

    def text_item_vectors(self, text_vectors: np.ndarray) -> np.ndarray | None:
        """Item vectors ``(N, C)`` for items known only by their text vectors ``(N, D_text)``
        (None when the model reads no text)."""
        if self.text_proj is None:
            return None
        return (np.asarray(text_vectors, np.float32) @ self.text_proj).astype(np.float32)

    def with_items(
        self,
        items: np.ndarray,
        bias: np.ndarray | None = None,
        text_lift: tuple[float, np.ndarray, np.ndarray] | None = None,
    ) -> SASRecEncoder:
        """A shallow copy reading item vectors from ``items`` ``(N, C)`` (another id space,
        e.g. the live catalog's, where new items were added by :meth:`text_item_vectors`),
        with an optional additive score term ``bias`` ``(N,)`` (the logit adjustment) and
        ``text_lift`` = (beta, ``(N, K)`` text-neighbour ids, sims) in that id space."""
        other = copy.copy(self)
        other.items = np.ascontiguousarray(items, np.float32)
        other.items_scaled = other.items * np.float32(math.sqrt(self.dim))
        other.bias = None if bias is None else np.ascontiguousarray(bias, np.float32)
        other.text_lift = text_lift if text_lift and text_lift[0] else None
        return other

    def _attend(self, x: np.ndarray, blk: dict, last_only: bool) -> np.ndarray:
        """One block over ``x`` ``(..., T, C)``: every leading index is its own history. Each
        history is its own stack in every product (numpy's matmul runs one BLAS call per
        stack), so a row's numbers do not depend on how many histories run with it."""
        *lead, T, C = x.shape
        H, D = self.n_heads, C // self.n_heads
        h = _ln(x, blk["ln1_w"], blk["ln1_b"])
        qkv = h @ blk["qkv_w"] + blk["qkv_b"]  # (..., T, 3C)
        q, k, v = qkv[..., :C], qkv[..., C : 2 * C], qkv[..., 2 * C :]
        if last_only:
            q = q[..., -1:, :]
        q = q.reshape(*lead, -1, H, D).swapaxes(-2, -3)  # (..., H, Tq, D)
        k = k.reshape(*lead, T, H, D).swapaxes(-2, -3)  # (..., H, T, D)
        v = v.reshape(*lead, T, H, D).swapaxes(-2, -3)
        att = q @ k.swapaxes(-1, -2) / np.float32(math.sqrt(D))  # (..., H, Tq, T)
        if not last_only:
            att = att + self._causal[:T, :T]
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).swapaxes(-2, -3).reshape(*lead, -1, C)  # (..., Tq, C)
        x = (x[..., -1:, :] if last_only else x) + y @ blk["proj_w"] + blk["proj_b"]
        f = _gelu(_ln(x, blk["ln2_w"], blk["ln2_b"]) @ blk["fc1_w"] + blk["fc1_b"])
        return x + f @ blk["fc2_w"] + blk["fc2_b"]

    def _inputs(self, seq: np.ndarray, gaps: np.ndarray | None) -> np.ndarray:
        """Block inputs ``(..., T, C)`` for item ids ``seq`` ``(..., T)`` (the last ``T`` of
        at most ``max_len``) and their gap bucket ids (None: unknown)."""
        T = seq.shape[-1]
        x = self.items_scaled[seq] + self.pos[self.max_len - T :]
        if self.gap is not None:
            x = x + self.gap[np.ones(seq.shape, np.int64) if gaps is None else gaps]
        return x

    def user_vector(self, history: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        """``(C,)`` float32 vector from internal item ids (oldest first); last ``max_len`` used.
        ``timestamps`` (same length) feed the time-gap embedding when the model has one.
        An empty history gives a zero vector (the caller falls back to popular items).
        The same numbers as its row of :meth:`encode_many` (it is that, for one history)."""
        return self.encode_many([history], [timestamps])[0]

    def encode_many(
        self, histories: Sequence[np.ndarray], timestamps: Sequence[np.ndarray | None]
    ) -> np.ndarray:
        """``(B, C)`` float32 user vectors of ``B`` histories of any lengths (internal ids
        oldest first, ``timestamps`` aligned or None each): those of one length run as one
        stacked pass, and row ``b`` is bit for bit :meth:`user_vector` of history ``b``."""
        out = np.zeros((len(histories), self.dim), np.float32)
        by_len: dict[int, list[int]] = {}
        for b, h in enumerate(histories):
            if len(h):
                by_len.setdefault(min(len(h), self.max_len), []).append(b)
        for T, rows in by_len.items():
            seq = np.stack([np.asarray(histories[b], np.int64)[-T:] for b in rows])
            gaps = None
            if self.gap is not None:
                ts = [timestamps[b] for b in rows]
                one = np.ones(T, np.int64)
                gaps = np.stack([one if t is None else gap_buckets(t)[-T:] for t in ts])
            x = self._inputs(seq, gaps)  # (G, T, C)
            n = len(self.blocks)
            for i, blk in enumerate(self.blocks):
                x = self._attend(x, blk, last_only=i == n - 1)
            out[rows] = _ln(x[:, -1], self.lnf_w, self.lnf_b)
        return out

    def _attend_suffix(
        self, pre: np.ndarray, suf: np.ndarray, blk: dict, last_only: bool
    ) -> np.ndarray:
        """:meth:`_attend` for ``G`` histories' ``R`` variants each, which share their first
        ``s`` positions: ``pre`` ``(G, s, C)`` the shared block input, ``suf`` ``(G, R, S, C)``
        each variant's own. Under causal attention the shared positions' outputs are the same
        in every variant, so only the suffix is computed here (``(G, R, S, C)``, or
        ``(G, R, 1, C)`` with ``last_only``)."""
        G, R, S, C = suf.shape
        s = pre.shape[1]
        H, D = self.n_heads, C // self.n_heads
        qkv = _ln(suf, blk["ln1_w"], blk["ln1_b"]) @ blk["qkv_w"] + blk["qkv_b"]  # (G,R,S,3C)
        kv = qkv[..., C:]
        if s:
            kv_pre = _ln(pre, blk["ln1_w"], blk["ln1_b"]) @ blk["qkv_w"][:, C:] + blk["qkv_b"][C:]
            shared = np.broadcast_to(kv_pre[:, None], (G, R, s, 2 * C))
            kv = np.concatenate([shared, kv], axis=2)
        T = s + S
        q = qkv[..., -1:, :C] if last_only else qkv[..., :C]
        q = q.reshape(G, R, -1, H, D).swapaxes(2, 3)  # (G, R, H, Sq, D)
        k = kv[..., :C].reshape(G, R, T, H, D).swapaxes(2, 3)  # (G, R, H, T, D)
        v = kv[..., C:].reshape(G, R, T, H, D).swapaxes(2, 3)
        att = q @ k.swapaxes(-1, -2) / np.float32(math.sqrt(D))  # (G, R, H, Sq, T)
        if not last_only:
            att = att + self._causal[s:T, :T]
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).swapaxes(2, 3).reshape(G, R, -1, C)  # (G, R, Sq, C)
        x = (suf[..., -1:, :] if last_only else suf) + y @ blk["proj_w"] + blk["proj_b"]
        f = _gelu(_ln(x, blk["ln2_w"], blk["ln2_b"]) @ blk["fc1_w"] + blk["fc1_b"])
        return x + f @ blk["fc2_w"] + blk["fc2_b"]

    def leave_one_out(
        self,
        histories: Sequence[np.ndarray],
        timestamps: Sequence[np.ndarray | None],
        cap: int,
    ) -> list[np.ndarray]:
        """Per history ``(L,)`` (ids oldest first, ``timestamps`` aligned or None) the
        ``(R, C)`` user vectors of it without each of its last ``R = min(L, cap)`` positions
        (oldest removed first). Histories of one length run as one stacked pass; the columns
        before the first removed position are computed once per history. A history's rows
        are bit for bit the same whichever others run with it."""
        out: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(histories)
        by_len: dict[int, list[int]] = {}
        for b, h in enumerate(histories):
            by_len.setdefault(len(h), []).append(b)
        for L, rows in by_len.items():
            if L <= 1:  # nothing, or one item whose removal leaves an empty history
                for b in rows:
                    out[b] = np.zeros((L, self.dim), np.float32)
                continue
            positions = np.arange(max(0, L - cap), L)
            R, T = len(positions), min(L - 1, self.max_len)
            cols = np.arange(L - 1)[None, :]
            take = cols + (cols >= positions[:, None])  # (R, L - 1): row r lacks positions[r]
            seq = np.stack([np.asarray(histories[b], np.int64)[take][:, -T:] for b in rows])
            gaps = None
            if self.gap is not None:
                ts = [timestamps[b] for b in rows]
                one = np.ones((R, T), np.int64)
                gaps = np.stack([one if t is None else _gap_rows(t[take])[:, -T:] for t in ts])
            x = self._inputs(seq, gaps)  # (G, R, T, C)
            # columns before the first removed position are every variant's: s of them
            s = min(max(0, T + 1 - R), T - 1)
            pre, suf = x[:, 0, :s], x[:, :, s:]
            n = len(self.blocks)
            for i, blk in enumerate(self.blocks):
                last = i == n - 1
                suf = self._attend_suffix(pre, suf, blk, last_only=last)
                if s and not last:
                    pre = self._attend(pre, blk, last_only=False)
            vecs = _ln(suf[:, :, -1], self.lnf_w, self.lnf_b).astype(np.float32)  # (G, R, C)
            for g, b in enumerate(rows):
                out[b] = vecs[g]
        return out

    def user_vectors(
        self, histories: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """``(B, C)`` float32 vectors for ``B`` histories of one length, ``(B, T)`` internal
        ids oldest first, in one pass: row ``b`` equals ``user_vector(histories[b])``.
        ``timestamps`` ``(B, T)`` or None, as in :meth:`user_vector`."""
        seq = np.asarray(histories, dtype=np.int64)
        if seq.ndim != 2:
            raise ValueError("histories must be (B, T)")
        ts = [None] * len(seq) if timestamps is None else list(np.asarray(timestamps))
        return self.encode_many(list(seq), ts)

    def scores_at(self, users: np.ndarray, latest: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``(B, J)``: what :meth:`scores` gives the items ``cols`` ``(J,)`` for user vectors
        ``users`` ``(B, C)`` whose histories end in ``latest`` ``(B,)`` (0 = empty history),
        without the catalog-long product."""
        cols = np.asarray(cols, np.int64)
        s = (np.asarray(users, np.float32) / np.float32(self.temperature)) @ self.items[cols].T
        if self.bias is not None:
            s += self.bias[cols]
        if self.text_lift is not None:
            beta, ids, sims = self.text_lift
            last = np.asarray(latest, np.int64)
            # the lift of column j for row b: beta * sims[last_b] where ids[last_b] == j
            hit = ids[last][:, :, None] == cols[None, None, :]  # (B, K, J)
            lift = (sims[last][:, :, None] * hit).sum(1) * (last > 0)[:, None]  # none if empty
            s += (np.float32(beta) * lift).astype(np.float32)
        return s

    def scores_many(self, users: np.ndarray, latest: np.ndarray) -> np.ndarray:
        """``(B, n_items + 1)`` float32: :meth:`scores` of ``B`` user vectors ``(B, C)`` whose
        histories end in ``latest`` ``(B,)`` (0 = empty), column 0 ``-inf``. Each vector is
        its own matrix-vector product (the same BLAS call whatever ``B``): one
        ``(B, C) @ (C, N)`` product would be faster, but BLAS may sum a row's terms in
        another order depending on how many rows it has, and a row must not depend on that."""
        u = np.asarray(users, np.float32) / np.float32(self.temperature)
        s = np.empty((len(u), len(self.items)), np.float32)
        for b in range(len(u)):
            np.matmul(self.items, u[b], out=s[b])
        if self.bias is not None:
            s += self.bias
        if self.text_lift is not None:
            beta, ids, sims = self.text_lift
            add_text_lift(s, np.asarray(latest, np.int64), ids, sims, beta)  # row 0 adds 0
        s[:, 0] = -np.inf
        return s

    def scores(
        self,
        history: np.ndarray,
        timestamps: np.ndarray | None = None,
        user: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores over the catalog ``(n_items + 1,)``; column 0 is ``-inf``. ``user``: the
        history's :meth:`user_vector` when the caller has it. The same numbers as the
        history's row of :meth:`scores_many`."""
        if user is None:
            user = self.user_vector(history, timestamps)
        latest = np.asarray(history[-1:] if len(history) else [0], np.int64)
        return self.scores_many(user[None], latest)[0]
