"""Identifier helpers: keyed bijections, hashing, and id string formatting.

Record ids are bijective functions of a unique integer (person slot or
per-batch sequence number), so they are unique by construction, can be
recomputed in any later batch, and do not leak person order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

U64 = np.uint64
_MASK64 = (1 << 64) - 1
_ROUNDS = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)


def _u64(x) -> np.ndarray:
    """Reinterpret integers as uint64 (two's complement for negatives)."""
    x = np.asarray(x)
    return x if x.dtype == np.uint64 else x.astype(np.int64).view(np.uint64)


def splitmix(x: np.ndarray) -> np.ndarray:
    """Stateless 64-bit mixer (splitmix64 finaliser)."""
    x = _u64(x) + U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


def key_of(*parts: int) -> int:
    """Fold small ints (seed, tags) into one 64-bit key."""
    h = np.array([0x243F6A8885A308D3], dtype=np.uint64)
    for p in parts:
        h = splitmix(h ^ U64(int(p) & _MASK64))
    return int(h[0])


def hash64(key: int, *arrays) -> np.ndarray:
    """Per-element hash of (key, arrays...): batch-independent random draws."""
    h = splitmix(np.full(np.shape(arrays[0]), key, dtype=np.uint64))
    for a in arrays:
        h = splitmix(h ^ _u64(a))
    return h


def uniform(key: int, *arrays) -> np.ndarray:
    """Hash-derived U[0,1) per element (same value in every batch)."""
    return (hash64(key, *arrays) >> U64(11)).astype(np.float64) / float(1 << 53)


def _mix_bits(x: np.ndarray, bits: int, key: int) -> np.ndarray:
    # xor, odd multiply and xor-shift are each bijective modulo 2**bits
    mask = U64((1 << bits) - 1)
    shift = U64(max(1, bits // 2))
    for i, c in enumerate(_ROUNDS):
        x = (x ^ U64(key_of(key, i) & int(mask))) & mask
        x = (x * U64(c | 1)) & mask
        x = x ^ (x >> shift)
    return x


def permute(n, m: int, key: int) -> np.ndarray:
    """Keyed bijection of [0, m) (cycle walking over the next power of two)."""
    n = _u64(np.asarray(n))
    if n.size and int(n.max()) >= m:
        raise ValueError(f"id space exhausted: {int(n.max())} >= {m}")
    bits = max(2, int(m - 1).bit_length())
    x = _mix_bits(n, bits, key)
    bad = x >= U64(m)
    while bad.any():
        x[bad] = _mix_bits(x[bad], bits, key)
        bad = x >= U64(m)
    return x


def mix64(n, key: int) -> np.ndarray:
    return _mix_bits(_u64(np.asarray(n)), 64, key)


def hex_series(x: np.ndarray, width: int) -> pl.Series:
    """Lower-case hex of the low `width` nibbles of each uint64."""
    b = _u64(x).astype(">u8").view(np.uint8).reshape(-1, 8)
    chars = _HEX[b].reshape(-1, 16)[:, 16 - width:]
    raw = np.ascontiguousarray(chars).view(f"S{width}").ravel()
    return pl.Series(raw).cast(pl.String)


def dec_series(x: np.ndarray, width: int) -> pl.Series:
    return pl.Series(np.asarray(x).astype(np.int64)).cast(pl.String).str.zfill(width)


def uuid_series(unique: np.ndarray, key: int) -> pl.Series:
    """uuid4-shaped ids: 60 bits are a bijection of `unique` (< 2**60), the rest is hash noise."""
    body = hex_series(permute(unique, 1 << 60, key), 15)
    noise = hash64(key_of(key, 1), unique)
    variant = pl.Series(np.array([b"8", b"9", b"a", b"b"])[(noise >> U64(62)).astype(np.int64)]).cast(pl.String)
    df = pl.DataFrame({"h": body, "v": variant, "r": hex_series(noise, 15)})
    return df.select(
        pl.concat_str(
            pl.col("h").str.slice(0, 8), pl.lit("-"), pl.col("h").str.slice(8, 4), pl.lit("-4"),
            pl.col("h").str.slice(12, 3), pl.lit("-"), pl.col("v"), pl.col("r").str.slice(0, 3), pl.lit("-"),
            pl.col("r").str.slice(3, 12),
        )
    ).to_series()


def digits_for(m: int, minimum: int) -> int:
    return max(minimum, len(str(m - 1)))


def luhn_append(number: np.ndarray, ndigits: int) -> pl.Series:
    """Zero-padded number followed by its Luhn check digit (payment-card style)."""
    n = np.asarray(number).astype(np.int64)
    digits = (n[:, None] // 10 ** np.arange(ndigits - 1, -1, -1)) % 10
    # from the right of the payload, every other digit (starting with the last) is doubled
    dbl = (np.arange(ndigits)[::-1] % 2) == 0
    d = np.where(dbl, digits * 2, digits)
    d = np.where(d > 9, d - 9, d)
    check = (10 - d.sum(axis=1) % 10) % 10
    return dec_series(n * 10 + check, ndigits + 1)
