"""Classical baseline for the digits one-class protocol: PCA reconstruction error (scikit-learn).

PCA is fitted on the training normals' pixels (32x32, scaled to 0-1), keeping the components that explain
``--variance`` of the variance; a test image's score is its mean squared reconstruction error. It is
deterministic, so one run per digit.

    OMP_NUM_THREADS=1 .venv/bin/python tools/experiments/anomaly_pca.py --data runs/anomaly/data --digits 0 1 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from streammem.data.mvtec import read_mvtec
from streammem.data.synthetic_anomaly import write_digits
from streammem.evaluation.functional.anomaly import image_metrics
from streammem.models.memmc_mae.scoring import load_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("runs/anomaly/data"))
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--variance", type=float, default=0.9)
    args = parser.parse_args()
    rows = []
    for digit in args.digits:
        cat = args.data / f"digits_{digit}"
        if not cat.is_dir():
            write_digits(args.data, (digit,))
        split = read_mvtec(cat)
        train = load_batch(split.train, 1, 32).flatten(1).numpy() / 255.0
        test = load_batch(split.test, 1, 32).flatten(1).numpy() / 255.0
        pca = PCA(n_components=args.variance, svd_solver="full").fit(train)
        scores = ((pca.inverse_transform(pca.transform(test)) - test) ** 2).mean(axis=1)
        metrics = image_metrics(np.array([i.label for i in split.test]), scores)
        rows.append({"digit": digit, "variant": "pca", "components": int(pca.n_components_),
                     **{k: round(v, 2) for k, v in metrics.items()}})
        print(json.dumps(rows[-1]), flush=True)
    auc = np.array([r["image_AUROC"] for r in rows])
    print(json.dumps({"variant": "pca", "digits": len(auc), "image_AUROC_mean": round(float(auc.mean()), 2)}))


if __name__ == "__main__":
    main()
