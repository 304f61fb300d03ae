#!/usr/bin/env python3
"""
gen.py - independent reference for fr_shamir_split_seeded; writes kat.txt.

Standard library only, so the expected shares do not come from the code they
check. ChaCha20 here is the original variant that libsodium's
crypto_stream_chacha20 implements: 64-bit block counter starting at 0 (state
words 12-13) and 64-bit nonce (words 14-15), here eight zero bytes.

Sharing, as common/secagg/shamir.h specifies:
  field GF(p), p = 2^61 - 1; the 32-byte secret is cut into 5 chunks of 7
  bytes little-endian, the last holding bytes 28..31; chunk c is the constant
  term of polynomial c of degree t - 1. Coefficients come from the keystream
  as 8-byte little-endian words masked to 61 bits, a word >= p being skipped,
  in the order chunk 0 degrees 1..t-1, chunk 1 degrees 1..t-1, and so on.
  Share y is the 5 evaluations at x, each 8 bytes little-endian.

Run: python3 gen.py > kat.txt   (from tests/vectors/shamir)
"""
import hashlib
import struct

P = (1 << 61) - 1
CHUNKS = 5
MASK32 = 0xFFFFFFFF


def rotl(v, n):
    return ((v << n) | (v >> (32 - n))) & MASK32


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK32
    s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = rotl(s[b] ^ s[c], 7)


def chacha20_block(key, nonce, counter):
    const = struct.unpack("<4I", b"expand 32-byte k")
    state = (list(const) + list(struct.unpack("<8I", key)) +
             [counter & MASK32, counter >> 32] +
             list(struct.unpack("<2I", nonce)))
    s = state[:]
    for _ in range(10):
        quarter(s, 0, 4, 8, 12)
        quarter(s, 1, 5, 9, 13)
        quarter(s, 2, 6, 10, 14)
        quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15)
        quarter(s, 1, 6, 11, 12)
        quarter(s, 2, 7, 8, 13)
        quarter(s, 3, 4, 9, 14)
    return struct.pack("<16I", *((s[i] + state[i]) & MASK32
                                 for i in range(16)))


def keystream_words(key):
    """Yields 8-byte little-endian words of the keystream, nonce zero."""
    counter = 0
    while True:
        block = chacha20_block(key, bytes(8), counter)
        counter += 1
        for i in range(0, 64, 8):
            yield struct.unpack("<Q", block[i:i + 8])[0]


def self_check():
    # Known keystream for key 0, nonce 0 (draft-strombergson-chacha-test-
    # vectors TC1; also the RFC 7539 all-zero block).
    want = bytes.fromhex(
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
    assert chacha20_block(bytes(32), bytes(8), 0) == want
    # TC8 of the same draft: random key and IV, first keystream block.
    key = bytes.fromhex("c46ec1b18ce8a878725a37e780dfb735"
                        "1f68ed2e194c79fbc6aebee1a667975d")
    iv = bytes.fromhex("1ada31d5cf688221")
    want = bytes.fromhex(
        "f63a89b75c2271f9368816542ba52f06ed49241792302b00b5e8f80ae9a473af"
        "c25b218f519af0fdd406362e8d69de7f54c604a6e00f353f110f771bdca8ab92")
    assert chacha20_block(key, iv, 0) == want


def chunks_of(secret):
    out = [int.from_bytes(secret[7 * c:7 * c + 7], "little")
           for c in range(CHUNKS - 1)]
    out.append(int.from_bytes(secret[28:32], "little"))
    return out


def split_seeded(secret, t, xs, seed):
    words = keystream_words(seed)
    polys = []
    for s in chunks_of(secret):
        coeffs = [s]
        while len(coeffs) < t:
            w = next(words) & P
            if w < P:
                coeffs.append(w)
        polys.append(coeffs)
    shares = []
    for x in xs:
        y = b""
        for coeffs in polys:
            v = sum(a * pow(x, k, P) for k, a in enumerate(coeffs)) % P
            y += v.to_bytes(8, "little")
        shares.append(y)
    return shares


def combine(xs, ys):
    """Lagrange at 0, to check the vectors round-trip in Python too."""
    chunks = []
    for c in range(CHUNKS):
        acc = 0
        for i, xi in enumerate(xs):
            num, den = 1, 1
            for j, xj in enumerate(xs):
                if j != i:
                    num = num * xj % P
                    den = den * (xj - xi) % P
            yi = int.from_bytes(ys[i][8 * c:8 * c + 8], "little")
            acc = (acc + yi * num * pow(den, P - 2, P)) % P
        chunks.append(acc)
    return (b"".join(v.to_bytes(7, "little") for v in chunks[:4]) +
            chunks[4].to_bytes(4, "little"))


def label(s, n=32):
    return hashlib.sha256(s.encode()).digest()[:n]


CASES = [
    # (name, secret, t, xs, seed)
    ("t1", label("secret t1"), 1, [1], label("seed t1")),
    ("t2n3", label("secret t2n3"), 2, [1, 2, 3], label("seed t2n3")),
    ("t3n5", bytes(range(32)), 3, [1, 2, 3, 4, 5], bytes(32)),
    ("ones", b"\xff" * 32, 4, [1, 2, 3, 4, 5, 6], label("seed ones")),
    ("zero", bytes(32), 3, [9, 17, 4], label("seed zero")),
    ("wide", label("secret wide"), 5, [65535, 1, 1000, 7, 40000, 2, 65534],
     label("seed wide")),
    ("t12", label("secret t12"), 12, list(range(100, 114)), label("seed t12")),
]


def main():
    self_check()
    print("# Shamir known answers for fr_shamir_split_seeded (GF(2^61-1)).")
    print("# Generated by gen.py in this directory; do not edit by hand.")
    print("# Per case: secret, t, xs, seed, then one 'y' line per x in order.")
    for name, secret, t, xs, seed in CASES:
        shares = split_seeded(secret, t, xs, seed)
        assert combine(xs[:t], shares[:t]) == secret
        assert combine(xs[-t:], shares[-t:]) == secret
        print()
        print("case", name)
        print("secret", secret.hex())
        print("t", t)
        print("xs", " ".join(str(x) for x in xs))
        print("seed", seed.hex())
        for y in shares:
            print("y", y.hex())
        print("end")


if __name__ == "__main__":
    main()
