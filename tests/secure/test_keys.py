"""Key agreement, the mask generator, share encryption, and the missing extra."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from datapredict.errors import MissingDependencyError
from datapredict.secure import keys
from datapredict.secure.keys import agree, decrypt, encrypt, key_pair, pair_label, prg


def _pair(byte: int):
    return key_pair(bytes([byte]) * 32)


def test_both_sides_agree_on_one_key_per_label():
    alice, bob, carol = _pair(1), _pair(2), _pair(3)
    label = pair_label("mask", 4, 7, 2)
    assert label == pair_label("mask", 4, 2, 7)  # the same from either side
    key = agree(alice.secret, bob.public, label)
    assert len(key) == 32 and key == agree(bob.secret, alice.public, label)
    assert key != agree(alice.secret, carol.public, label)
    assert key != agree(alice.secret, bob.public, pair_label("share", 4, 7, 2))
    assert key != agree(alice.secret, bob.public, pair_label("mask", 5, 7, 2))


def test_prg_is_the_aes_ctr_keystream():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    seed = bytes(range(32))
    expected = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor().update(bytes(80))
    stream = prg(seed, 10)
    assert stream.dtype == np.uint64 and stream.shape == (10,)
    assert stream.tobytes() == expected
    assert np.array_equal(prg(seed, 3), stream[:3])
    assert not np.array_equal(prg(bytes(32), 10), stream)


def test_shares_are_encrypted_and_authenticated():
    key = bytes(32)
    ciphertext = encrypt(key, 3, 5, b"share", b"label")
    assert b"share" not in ciphertext
    assert decrypt(key, 3, 5, ciphertext, b"label") == b"share"
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    from cryptography.exceptions import InvalidTag

    for args in (
        (3, 5, tampered, b"label"),
        (5, 3, ciphertext, b"label"),
        (3, 5, ciphertext, b"x"),
    ):
        with pytest.raises(InvalidTag):
            decrypt(key, *args)


def test_without_cryptography_the_error_names_the_extra(monkeypatch):
    keys._crypto.cache_clear()
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives", None)
    try:
        with pytest.raises(MissingDependencyError, match=r"datapredict\[privacy\]"):
            key_pair(bytes(32))
    finally:
        keys._crypto.cache_clear()
