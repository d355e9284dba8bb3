"""MinHash signatures (datasketch) and LSH band hashes, both deterministic across processes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

# Fixed forever: stored signatures are only comparable when made with the same permutations.
SEED = 1
SCHEME = "affine32"
Signature = npt.NDArray[np.uint32]
# Odd 64-bit multiplier (from splitmix64) to fold a band's rows into one 64-bit hash.
_FOLD = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class LshParams:
    """Signature length and banding: ``bands`` bands of ``rows`` values each."""

    num_perm: int
    bands: int

    @property
    def rows(self) -> int:
        """Values per band (the last num_perm % bands values are not banded)."""
        return self.num_perm // self.bands

    def __post_init__(self) -> None:
        if not 0 < self.bands <= self.num_perm:
            raise ValueError(f"bands must be in 1..num_perm, got {self.bands}/{self.num_perm}")


@lru_cache(maxsize=4)
def _permutations(num_perm: int) -> npt.NDArray[np.uint32]:
    perms: npt.NDArray[np.uint32] = MinHash(num_perm=num_perm, seed=SEED).permutations
    return perms


def minhash(shingles: Iterable[str], num_perm: int) -> MinHash:
    """The datasketch MinHash of ``shingles`` with our fixed seed and scheme."""
    mh = MinHash(num_perm=num_perm, seed=SEED, permutations=_permutations(num_perm), scheme=SCHEME)
    mh.update_batch([s.encode("utf-8") for s in shingles])
    return mh


def signature(shingles: Iterable[str], num_perm: int) -> Signature:
    """MinHash values of ``shingles`` as uint32."""
    values: Signature = minhash(shingles, num_perm).hashvalues.astype(np.uint32)
    return values


def to_bytes(sig: Signature) -> bytes:
    """Little-endian bytes for storage."""
    return sig.astype("<u4").tobytes()


def from_bytes(data: bytes) -> Signature:
    """Inverse of ``to_bytes``."""
    sig: Signature = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    return sig


def band_hashes(sig: Signature, params: LshParams) -> list[int]:
    """One signed 64-bit hash per band (signed so it fits a BIGINT column)."""
    rows = params.rows
    block = sig[: params.bands * rows].astype(np.uint64).reshape(params.bands, rows)
    acc = np.zeros(params.bands, dtype=np.uint64)
    with np.errstate(over="ignore"):  # wraparound is the point: arithmetic modulo 2**64
        for col in range(rows):
            acc = (acc ^ block[:, col]) * _FOLD
            acc ^= acc >> np.uint64(29)
    return [int(v) for v in acc.view(np.int64)]


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values."""
    return float(np.count_nonzero(a == b)) / len(a)


def containment(similarity: float, size: int, other_size: int) -> float:
    """Estimated share of a set of ``size`` found in one of ``other_size`` with that Jaccard.

    |A n B| = J * (|A| + |B|) / (1 + J), then divided by |A| and capped at 1.
    """
    if size <= 0:
        return 0.0
    inter = similarity * (size + other_size) / (1.0 + similarity)
    return min(1.0, inter / size)
