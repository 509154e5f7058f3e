"""Published full-ranking results on Amazon Beauty (docs/benchmarks.md), for side by side."""

from __future__ import annotations

#: model -> (HR@10, NDCG@10, HR@20, NDCG@20, source); None where not published.
BEAUTY: dict[str, tuple[float, float, float | None, float | None, str]] = {
    "PopRec": (0.0152, 0.0068, 0.0217, 0.0084, "S3-Rec repository"),
    "GRU4Rec": (0.0283, 0.0137, 0.0479, 0.0187, "S3-Rec repository"),
    "BERT4Rec": (0.0347, 0.0170, 0.0599, 0.0233, "S3-Rec repository"),
    "SASRec": (0.0605, 0.0318, 0.0902, 0.0394, "S3-Rec repository"),
    "S3-Rec": (0.0647, 0.0327, 0.0994, 0.0414, "S3-Rec repository"),
    "ICLRec": (0.0744, 0.0403, 0.1058, 0.0483, "ICLRec README"),
    "TiCoSeRec": (0.0740, 0.0418, 0.1068, 0.0501, "TiCoSeRec README"),
    "LC-Rec (LLM)": (0.0715, 0.0420, None, None, "GRAM poster, ACL 2025"),
    "DuoRec": (0.0845, 0.0443, None, None, "quoted in the eSASRec repository"),
    "ActionPiece": (0.0775, 0.0424, None, None, "quoted in the eSASRec repository"),
    "HSTU": (0.0788, 0.0439, None, None, "eSASRec repository"),
    "FuXi-alpha": (0.0809, 0.0451, None, None, "eSASRec repository"),
    "GRAM (LLM)": (0.0890, 0.0531, None, None, "GRAM poster, ACL 2025"),
    "SASRec + sampled softmax": (0.0921, 0.0531, None, None, "eSASRec repository, 2025"),
    "eSASRec": (0.0928, 0.0523, None, None, "eSASRec repository, 2025"),
}

#: The published PopRec row at every cut-off, which ``pop-all`` must reproduce.
POPREC_FULL = {
    "HR@5": 0.0080,
    "NDCG@5": 0.0044,
    "HR@10": 0.0152,
    "NDCG@10": 0.0068,
    "HR@20": 0.0217,
    "NDCG@20": 0.0084,
}
