"""Checksums: parsing, streaming hashers, comparison and RFC 9530 digest headers."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

from skyhaul.core.integrity import (
    SUPPORTED_ALGORITHMS,
    Checksum,
    MultiHasher,
    is_normal_checksum,
    matches,
    new_hasher,
    parse_checksum,
    parse_repr_digest,
)

DATA = b"the quick brown fox jumps over the lazy dog\n" * 100
DIGESTS = {
    "sha256": hashlib.sha256(DATA).hexdigest(),
    "sha1": hashlib.sha1(DATA).hexdigest(),
    "md5": hashlib.md5(DATA).hexdigest(),
    "adler32": f"{zlib.adler32(DATA):08x}",
}


def b64(algorithm: str) -> str:
    return base64.b64encode(bytes.fromhex(DIGESTS[algorithm])).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"sha256:{DIGESTS['sha256']}", Checksum("sha256", DIGESTS["sha256"])),
        (f"SHA256:{DIGESTS['sha256'].upper()}", Checksum("sha256", DIGESTS["sha256"])),
        (f"sha-256:{DIGESTS['sha256']}", Checksum("sha256", DIGESTS["sha256"])),
        (f"sha1:{DIGESTS['sha1']}", Checksum("sha1", DIGESTS["sha1"])),
        (f"md5:{DIGESTS['md5']}", Checksum("md5", DIGESTS["md5"])),
        (f" adler32:{DIGESTS['adler32']} ", Checksum("adler32", DIGESTS["adler32"])),
        ("adler32:0000ABCD", Checksum("adler32", "0000abcd")),
    ],
)
def test_parse_checksum(text: str, expected: Checksum) -> None:
    assert parse_checksum(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected 'algorithm:hex'"),
        ("abcdef", "expected 'algorithm:hex'"),
        ("sha512:" + "0" * 128, "unsupported algorithm 'sha512'"),
        ("crc32:00000000", "unsupported algorithm"),
        ("sha256:abc", "sha256 needs 64 hex digits, got 3"),
        ("md5:" + "0" * 33, "md5 needs 32 hex digits, got 33"),
        ("sha1:" + "g" * 40, "non-hex"),
        ("sha256:", "needs 64 hex digits, got 0"),
    ],
)
def test_parse_checksum_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as excinfo:
        parse_checksum(text)
    assert repr(text) in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("algorithm", SUPPORTED_ALGORITHMS)
def test_checksum_str_round_trips(algorithm: str) -> None:
    checksum = Checksum(algorithm, DIGESTS[algorithm])
    assert str(checksum) == f"{algorithm}:{DIGESTS[algorithm]}"
    assert parse_checksum(str(checksum)) == checksum


@pytest.mark.parametrize(
    ("algorithm", "hexdigest"),
    [("sha512", "0" * 128), ("sha256", "0" * 63), ("md5", "A" * 32), ("md5", "z" * 32)],
)
def test_checksum_validates_its_fields(algorithm: str, hexdigest: str) -> None:
    with pytest.raises(ValueError):
        Checksum(algorithm, hexdigest)


@pytest.mark.parametrize("algorithm", SUPPORTED_ALGORITHMS)
@pytest.mark.parametrize("chunk", [1, 7, 4096, len(DATA)])
def test_new_hasher_streams_like_one_shot(algorithm: str, chunk: int) -> None:
    hasher = new_hasher(algorithm)
    view = memoryview(DATA)
    for i in range(0, len(DATA), chunk):
        hasher.update(view[i : i + chunk])
    assert hasher.hexdigest() == DIGESTS[algorithm]


def test_adler32_of_nothing_is_one_padded_to_eight_digits() -> None:
    assert new_hasher("adler32").hexdigest() == "00000001"


def test_new_hasher_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unsupported checksum algorithm 'crc32'"):
        new_hasher("crc32")


@pytest.mark.parametrize(
    ("extra", "keys"),
    [
        (None, {"sha256"}),
        ("sha256", {"sha256"}),
        ("md5", {"sha256", "md5"}),
        ("adler32", {"sha256", "adler32"}),
        ("sha1", {"sha256", "sha1"}),
    ],
)
def test_multihasher_computes_sha256_and_the_extra(extra: str | None, keys: set[str]) -> None:
    hasher = MultiHasher(extra)
    hasher.update(DATA[:10])
    hasher.update(memoryview(DATA)[10:])
    digests = hasher.digests()
    assert set(digests) == keys
    assert all(digests[k] == DIGESTS[k] for k in keys)


def test_multihasher_rejects_unknown_extra() -> None:
    with pytest.raises(ValueError):
        MultiHasher("crc32")


@pytest.mark.parametrize(
    ("expected", "digests", "result"),
    [
        (
            Checksum("md5", DIGESTS["md5"]),
            {"sha256": DIGESTS["sha256"], "md5": DIGESTS["md5"]},
            True,
        ),
        (Checksum("md5", DIGESTS["md5"]), {"md5": DIGESTS["md5"].upper()}, True),
        (Checksum("md5", "0" * 32), {"md5": DIGESTS["md5"]}, False),
        (Checksum("sha256", DIGESTS["sha256"]), {"sha256": DIGESTS["sha256"]}, True),
        (Checksum("sha256", DIGESTS["sha256"]), {"sha256": "f" * 64}, False),
    ],
)
def test_matches(expected: Checksum, digests: dict[str, str], result: bool) -> None:
    assert matches(expected, digests) is result


def test_matches_refuses_a_missing_digest() -> None:
    with pytest.raises(ValueError, match="no md5 digest"):
        matches(Checksum("md5", DIGESTS["md5"]), {"sha256": DIGESTS["sha256"]})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"sha-256=:{b64('sha256')}:", Checksum("sha256", DIGESTS["sha256"])),
        (
            f"sha-512=:{base64.b64encode(bytes(64)).decode()}:, sha-256=:{b64('sha256')}:",
            Checksum("sha256", DIGESTS["sha256"]),
        ),
        # preference: sha256 over md5 whatever the order
        (f"md5=:{b64('md5')}:, sha-256=:{b64('sha256')}:", Checksum("sha256", DIGESTS["sha256"])),
        (f"sha=:{b64('sha1')}:", Checksum("sha1", DIGESTS["sha1"])),
        (f"adler=:{b64('adler32')}:", Checksum("adler32", DIGESTS["adler32"])),
        (f"md5=:{b64('md5')}:;param=1", Checksum("md5", DIGESTS["md5"])),
        # RFC 3230 Digest form
        (f"SHA-256={b64('sha256')}", Checksum("sha256", DIGESTS["sha256"])),
        # unsupported only, empty, malformed
        (f"sha-512=:{base64.b64encode(bytes(64)).decode()}:", None),
        ("", None),
        ("garbage", None),
        ("sha-256=:not base64!:", None),
        (f"sha-256=:{base64.b64encode(bytes(31)).decode()}:", None),  # wrong length
        # a bad sha-256 member does not hide a good md5 one
        (f"sha-256=:!!:, md5=:{b64('md5')}:", Checksum("md5", DIGESTS["md5"])),
    ],
)
def test_parse_repr_digest(header: str, expected: Checksum | None) -> None:
    assert parse_repr_digest(header) == expected


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("sha256:" + "ab" * 32, True),
        ("md5:" + "0" * 32, True),
        ("adler32:0000ffff", True),
        ("SHA256:" + "ab" * 32, False),
        ("sha256:" + "AB" * 32, False),
        ("sha-256:" + "ab" * 32, False),
        ("sha256:" + "ab" * 32 + "\n", False),
        ("sha256:zz", False),
        ("md5:" + "0" * 31, False),
    ],
)
def test_is_normal_checksum_says_whether_parsing_would_change_it(text: str, normal: bool) -> None:
    assert is_normal_checksum(text) is normal
    if normal:
        assert str(parse_checksum(text)) == text
