"""Load a RecBole SASRec checkpoint and export what shoprec's evaluator needs (runs in
bench/.recbole-venv, with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, cwd = the RecBole work folder).

Input ``--split`` (npz, written by ``bench/recbole_side_by_side.py`` from shoprec's own
leave-one-out split; every id is a shoprec internal item id):
  ``item_tokens`` (I+1,) ASIN of each internal id (row 0 = padding), ``user_tokens`` (U,),
  ``train_flat`` + ``train_offsets`` (U+1,) the training histories, ``valid`` (U,), ``test`` (U,).

Output ``--out`` (npz), all in shoprec's item order so that ``scores = user @ items.T`` is exactly
RecBole's ``full_sort_predict`` with its columns permuted to shoprec ids:
  ``item_vecs`` (I+1, D), ``user_vecs_test`` (U, D) from train + valid (last MAX_ITEM_LIST_LENGTH
  items), ``user_vecs_valid`` (U, D) from train only.
And ``--report`` (JSON): the id mapping check, the split check (RecBole's own leave-one-out
inputs and targets compared user by user with shoprec's) and the score check.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def right_padded(seqs: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """RecBole's layout: the last ``max_len`` items left-aligned, 0-padded on the right."""
    out = np.zeros((len(seqs), max_len), dtype=np.int64)
    lengths = np.zeros(len(seqs), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[-max_len:]
        out[i, : len(s)] = s
        lengths[i] = len(s)
    return out, lengths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    import torch
    from recbole.data import create_dataset
    from recbole.data.interaction import Interaction
    from recbole.utils import get_model, init_seed

    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    config = ckpt["config"]
    config["device"] = torch.device("cpu")
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    model = get_model(config["model"])(config, dataset)
    model.load_state_dict(ckpt["state_dict"])
    model.load_other_parameter(ckpt.get("other_parameter"))
    model.eval()
    max_len = int(config["MAX_ITEM_LIST_LENGTH"])
    iid, uid = config["ITEM_ID_FIELD"], config["USER_ID_FIELD"]

    sp = np.load(args.split)
    item_tokens = sp["item_tokens"].tolist()
    user_tokens = sp["user_tokens"].tolist()
    off, flat = sp["train_offsets"], sp["train_flat"]  # NpzFile re-reads on every [key]
    train = [flat[off[i] : off[i + 1]] for i in range(len(off) - 1)]
    valid, test = sp["valid"], sp["test"]
    report: dict = {"checkpoint": args.checkpoint, "max_len": max_len}

    # -- id mapping: shoprec internal id -> RecBole internal id, through the ASIN ---------
    tok2id = dataset.field2token_id[iid]
    perm = np.zeros(len(item_tokens), dtype=np.int64)
    missing = [t for t in item_tokens[1:] if t not in tok2id]
    for ours, tok in enumerate(item_tokens[1:], start=1):
        perm[ours] = tok2id.get(tok, 0)
    report["items"] = {
        "shoprec": len(item_tokens) - 1,
        "recbole": int(dataset.item_num - 1),
        "missing_in_recbole": len(missing),
        "bijection": bool(
            len(set(perm[1:].tolist())) == len(perm) - 1
            and not missing
            and len(perm) == dataset.item_num
        ),
    }
    utok2id = dataset.field2token_id[uid]
    rb_users = np.array([utok2id.get(t, 0) for t in user_tokens], dtype=np.int64)
    report["users"] = {
        "shoprec": len(user_tokens),
        "recbole": int(dataset.user_num - 1),
        "missing_in_recbole": int((rb_users == 0).sum()),
    }

    # -- split check: RecBole's own leave-one-out against shoprec's -------------------
    train_ds, valid_ds, test_ds = dataset.build()
    list_field, len_field = iid + config["LIST_SUFFIX"], config["ITEM_LIST_LENGTH_FIELD"]
    test_hist = [np.append(h, v) for h, v in zip(train, valid, strict=True)]
    row_of = {int(u): i for i, u in enumerate(rb_users)}
    checks = {}
    for phase, ds, hists, targets in (
        ("valid", valid_ds, train, valid),
        ("test", test_ds, test_hist, test),
    ):
        feat = ds.inter_feat
        users = feat[uid].numpy()
        seqs, lens, tgts = feat[list_field].numpy(), feat[len_field].numpy(), feat[iid].numpy()
        bad_input = bad_target = unknown = 0
        seen = set()
        for r in range(len(users)):
            i = row_of.get(int(users[r]))
            if i is None:
                unknown += 1
                continue
            seen.add(i)
            want = perm[hists[i][-max_len:]]
            got = seqs[r, : lens[r]]
            bad_input += int(len(want) != len(got) or not np.array_equal(want, got))
            bad_target += int(perm[targets[i]] != tgts[r])
        checks[phase] = {
            "rows": int(len(users)),
            "users_covered": len(seen),
            "input_mismatches": bad_input,
            "target_mismatches": bad_target,
            "unknown_users": unknown,
        }
    n_train_expected = int(sum(max(len(h) - 1, 0) for h in train))
    checks["train"] = {"rows": int(len(train_ds)), "expected_prefixes": n_train_expected}
    checks["identical"] = bool(
        all(
            checks[p]["input_mismatches"] == 0
            and checks[p]["target_mismatches"] == 0
            and checks[p]["users_covered"] == len(train)
            and checks[p]["unknown_users"] == 0
            for p in ("valid", "test")
        )
        and checks["train"]["rows"] == n_train_expected
    )
    report["split_check"] = checks

    # -- vectors in shoprec's item order ----------------------------------------------------
    with torch.no_grad():
        items_rb = model.item_embedding.weight.detach()
        item_vecs = items_rb[torch.from_numpy(perm)].numpy().astype(np.float32)

        def user_vecs(hists: list[np.ndarray]) -> np.ndarray:
            out = []
            for s in range(0, len(hists), 2048):
                seq, ln = right_padded([perm[h] for h in hists[s : s + 2048]], max_len)
                out.append(model.forward(torch.from_numpy(seq), torch.from_numpy(ln)).numpy())
            return np.concatenate(out).astype(np.float32)

        u_test = user_vecs(test_hist)
        u_valid = user_vecs(train)
        # score check: our vectors reproduce full_sort_predict, columns permuted
        seq, ln = right_padded([perm[h] for h in test_hist[:256]], max_len)
        inter = Interaction({list_field: torch.from_numpy(seq), len_field: torch.from_numpy(ln)})
        full = model.full_sort_predict(inter).numpy()[:, perm]
        mine = u_test[:256] @ item_vecs.T
        report["score_check_max_abs_diff"] = float(np.abs(full[:, 1:] - mine[:, 1:]).max())

    np.savez(args.out, item_vecs=item_vecs, user_vecs_test=u_test, user_vecs_valid=u_valid)
    with open(args.report, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
