"""The training loop shared by the torch models: epochs, progress, validation, early stopping."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

log = logging.getLogger(__name__)


@dataclass
class TrainHistory:
    """What happened during training: per-epoch loss and seconds, validation scores."""

    epoch_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    valid: list[tuple[int, float]] = field(default_factory=list)  # (epoch, NDCG@10)
    best_epoch: int = 0
    best_score: float = float("-inf")
    stopped_early: bool = False

    def to_dict(self) -> dict:
        return {
            "epoch_loss": self.epoch_loss,
            "epoch_seconds": self.epoch_seconds,
            "valid": self.valid,
            "best_epoch": self.best_epoch,
            "best_valid_ndcg10": self.best_score,
            "stopped_early": self.stopped_early,
            "seconds_per_epoch": (
                sorted(self.epoch_seconds)[len(self.epoch_seconds) // 2]
                if self.epoch_seconds
                else 0
            ),
        }


def train(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Callable[[int], Iterable[tuple[torch.Tensor, ...]]],
    n_batches: int,
    loss_fn: Callable[..., torch.Tensor],
    epochs: int,
    validate: Callable[[], float] | None = None,
    eval_every: int = 1,
    patience: int = 5,
    max_seconds: float | None = None,
    progress: bool = True,
    desc: str = "train",
) -> TrainHistory:
    """Run ``epochs`` epochs of ``loss_fn(*batch)`` and keep the weights of the best validation.

    ``batches(epoch)`` yields the batches of one epoch; ``validate()`` returns the score to
    maximise (NDCG@10 on validation). Training stops after ``patience`` validations without
    improvement or after ``max_seconds``; the best state is loaded back into ``model``.
    """
    hist = TrainHistory()
    # batches come from numpy on the CPU; the model may live on a GPU (SHOPREC_DEVICE)
    device = next(model.parameters()).device
    best_state = copy.deepcopy(model.state_dict())
    bad = 0
    start = time.perf_counter()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(desc, total=epochs, info="")
        for epoch in range(1, epochs + 1):
            model.train()
            t0 = time.perf_counter()
            total, count = 0.0, 0
            for batch in batches(epoch):
                batch = tuple(t.to(device) for t in batch)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(*batch)
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
                count += 1
            hist.epoch_seconds.append(time.perf_counter() - t0)
            hist.epoch_loss.append(total / max(count, 1))
            info = f"loss {hist.epoch_loss[-1]:.4f} {hist.epoch_seconds[-1]:.1f}s/ep"
            if validate is not None and (epoch % eval_every == 0 or epoch == epochs):
                model.eval()
                with torch.inference_mode():
                    score = validate()
                hist.valid.append((epoch, score))
                if score > hist.best_score:
                    hist.best_score, hist.best_epoch, bad = score, epoch, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad += 1
                info += (
                    f" valid NDCG@10 {score:.4f} (best {hist.best_score:.4f} @ {hist.best_epoch})"
                )
                log.info("%s epoch %d: %s", desc, epoch, info)
                if bad >= patience:
                    hist.stopped_early = True
                    bar.update(task, advance=1, info=info + " early stop")
                    break
            bar.update(task, advance=1, info=info)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                log.warning("%s: stopped by time after epoch %d", desc, epoch)
                break
    if validate is not None:
        model.load_state_dict(best_state)
    else:
        hist.best_epoch = len(hist.epoch_loss)
    model.eval()
    return hist
