#!/usr/bin/python3
"""Image retrieval on descriptors written by `featscope-cli features`: nearest neighbours with FAISS.

    featscope-cli features MODEL.pt --return NODE --l2-normalize -o gallery.npy photos/
    featscope-cli features MODEL.pt --return NODE --l2-normalize -o queries.npy new_photos/
    /usr/bin/python3 retrieve.py gallery.npy --queries queries.npy -k 5

Without --queries every gallery image is a query and is left out of its own results. With
--precision, an image's class is the name of its folder, and the script prints precision@1 (the
share of queries whose nearest neighbour is of the same class) and precision@k.

Uses FAISS (Debian: python3-faiss) when it is installed, else NumPy; the results are the same
(exact search, squared L2 distance; on L2-normalized rows that ranks like cosine similarity).
"""
import argparse
import os
import sys

import numpy as np

try:
    import faiss
except ImportError:  # pragma: no cover - the NumPy path gives the same neighbours
    faiss = None


def load(npy_path):
    """The descriptors (float32 [n, d]) and the image path of each row (from the .paths.txt beside it)."""
    rows = np.load(npy_path)
    base = npy_path[:-4] if npy_path.endswith(".npy") else npy_path
    with open(base + ".paths.txt", encoding="utf-8") as f:
        paths = f.read().splitlines()
    if len(paths) != len(rows):
        sys.exit(f"{npy_path}: {len(rows)} rows but {len(paths)} paths in {base}.paths.txt")
    return np.ascontiguousarray(rows, dtype=np.float32), paths


def search(gallery, queries=None, k=5):
    """Indices [q, k] and squared L2 distances of each query's k nearest gallery rows.

    Without queries, the gallery is searched with itself and each row's own match is dropped."""
    leave_one_out = queries is None
    queries = gallery if leave_one_out else np.ascontiguousarray(queries, dtype=np.float32)
    wanted = min(k + (1 if leave_one_out else 0), len(gallery))
    if faiss is not None:
        index = faiss.IndexFlatL2(gallery.shape[1])
        index.add(gallery)
        distances, indices = index.search(queries, wanted)
    else:
        d = (queries ** 2).sum(1)[:, None] - 2 * queries @ gallery.T + (gallery ** 2).sum(1)[None, :]
        indices = np.argsort(d, axis=1, kind="stable")[:, :wanted]
        distances = np.take_along_axis(d, indices, 1)
    if leave_one_out:
        keep = np.array([[j for j in row if j != i][:k] for i, row in enumerate(indices)])
        distances = np.array([[dist for j, dist in zip(row, drow) if j != i][:k]
                              for i, (row, drow) in enumerate(zip(indices, distances))])
        indices = keep
    return indices, distances


def folder_labels(paths):
    """Each image's class: the name of the folder it is in."""
    return np.array([os.path.basename(os.path.dirname(p)) for p in paths])


def precision_at(indices, query_labels, gallery_labels, k):
    """Mean share of same-class images among each query's first k neighbours."""
    return float((gallery_labels[indices[:, :k]] == query_labels[:, None]).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gallery", help="descriptors to search in (.npy from featscope-cli features)")
    ap.add_argument("--queries", help="descriptors of the query images (default: every gallery image)")
    ap.add_argument("-k", type=int, default=5, help="neighbours per query (default 5)")
    ap.add_argument("--show", type=int, default=10, help="print the neighbours of this many queries (default 10)")
    ap.add_argument("--precision", action="store_true", help="print precision@1 and @k, classes from folder names")
    args = ap.parse_args()

    gallery, gallery_paths = load(args.gallery)
    if args.queries:
        queries, query_paths = load(args.queries)
    else:
        queries, query_paths = None, gallery_paths
    indices, distances = search(gallery, queries, args.k)
    print(f"{len(query_paths)} queries, {len(gallery_paths)} gallery images, {gallery.shape[1]} dimensions, "
          f"{'FAISS ' + faiss.__version__ if faiss else 'NumPy'} exact search")
    for q in range(min(args.show, len(query_paths))):
        print(query_paths[q])
        for j, dist in zip(indices[q], distances[q]):
            print(f"  {dist:10.4f}  {gallery_paths[j]}")
    if args.precision:
        labels = folder_labels(gallery_paths)
        query_labels = labels if args.queries is None else folder_labels(query_paths)
        print(f"precision@1: {precision_at(indices, query_labels, labels, 1):.4f}")
        print(f"precision@{args.k}: {precision_at(indices, query_labels, labels, args.k):.4f}")


if __name__ == "__main__":
    main()
