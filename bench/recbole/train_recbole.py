"""Train RecBole's SASRec and print RecBole's own test metrics (runs in bench/.recbole-venv).

Called by ``bench/recbole_side_by_side.py``; the working directory is the RecBole work folder
(RecBole writes log/ and saved/ there). Mirrors ``recbole.quick_start.run_recbole`` except that
it times every training epoch (``trainer._train_epoch``, validation excluded, as in shoprec's loop)
and writes what it measured to ``--out`` (JSON), including the checkpoint path.

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 ../../.recbole-venv/bin/python \
        ../../recbole/train_recbole.py --config config.json --out train_result.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from logging import getLogger


def to_float_dict(d) -> dict:
    return {str(k): float(v) for k, v in (d or {}).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True, help="JSON file: RecBole config_dict")
    ap.add_argument("--out", required=True, help="JSON file to write the results to")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()

    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    if args.threads:
        torch.set_num_threads(args.threads)
    config_dict = json.loads(open(args.config).read())
    config = Config(
        model=config_dict["model"], dataset=config_dict["dataset"], config_dict=config_dict
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    logger.info(sys.argv)
    logger.info(config)

    t0 = time.perf_counter()
    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    data_seconds = time.perf_counter() - t0

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    logger.info(model)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    epoch_seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed_train_epoch(*a, **k):
        t = time.perf_counter()
        out = train_epoch(*a, **k)
        epoch_seconds.append(time.perf_counter() - t)
        return out

    trainer._train_epoch = timed_train_epoch
    saved_epochs: list[int] = []  # RecBole saves the checkpoint whenever validation improves
    save_checkpoint = trainer._save_checkpoint

    def recorded_save(epoch, *a, **k):
        saved_epochs.append(int(epoch) + 1)  # RecBole counts epochs from 0
        return save_checkpoint(epoch, *a, **k)

    trainer._save_checkpoint = recorded_save
    valid_scores: list[float] = []
    valid_epoch = trainer._valid_epoch

    def recorded_valid(*a, **k):
        score, result = valid_epoch(*a, **k)
        valid_scores.append(float(score))
        return score, result

    trainer._valid_epoch = recorded_valid

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=True, show_progress=config["show_progress"]
    )
    fit_seconds = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    t0 = time.perf_counter()
    test_result = trainer.evaluate(
        test_data, load_best_model=True, show_progress=config["show_progress"]
    )
    test_seconds = time.perf_counter() - t0
    logger.info("best valid : %s", best_valid_result)
    logger.info("test result: %s", test_result)

    result = {
        "recbole_version": __import__("recbole").__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "checkpoint": os.path.abspath(trainer.saved_model_file),
        "epochs_run": len(epoch_seconds),
        "checkpoint_epoch": saved_epochs[-1] if saved_epochs else None,
        "epoch_seconds": epoch_seconds,
        "valid_scores": valid_scores,
        "train_samples_per_epoch": len(train_data._dataset),
        "load_average_1m_before_after": [load_before, load_after],
        "data_seconds": data_seconds,
        "fit_seconds": fit_seconds,
        "test_eval_seconds": test_seconds,
        "best_valid_score": float(best_valid_score),
        "best_valid_result": to_float_dict(best_valid_result),
        "test_result": to_float_dict(test_result),
        "n_users": int(dataset.user_num - 1),
        "n_items": int(dataset.item_num - 1),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
