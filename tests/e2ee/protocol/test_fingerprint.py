"""Safety numbers: symmetry, change on reinstall, QR rendering."""

from __future__ import annotations

from e2ee.protocol import KeyPair
from e2ee.protocol.fingerprint import safety_number


def test_safety_number_is_symmetric_and_60_digits() -> None:
    a, b = KeyPair.generate().public_key, KeyPair.generate().public_key
    ours = safety_number("+911111111111", a, "+912222222222", b)
    theirs = safety_number("+912222222222", b, "+911111111111", a)
    assert ours.display == theirs.display
    assert len(ours.display) == 60
    assert ours.display.isdigit()
    assert len(ours.formatted().split()) == 12
    assert ours.matches_scanned(theirs.scannable)
    assert theirs.matches_scanned(ours.scannable)
    assert not ours.matches_scanned(ours.scannable)


def test_safety_number_changes_with_a_new_identity() -> None:
    a, b = KeyPair.generate().public_key, KeyPair.generate().public_key
    before = safety_number("alice", a, "bob", b)
    reinstalled = KeyPair.generate().public_key
    after = safety_number("alice", a, "bob", reinstalled)
    assert before.display != after.display
    # Alice's half is unchanged; only Bob's half moved.
    assert before.local_fingerprint == after.local_fingerprint
    assert not after.matches_scanned(safety_number("bob", b, "alice", a).scannable)


def test_safety_number_depends_on_identifiers() -> None:
    a, b = KeyPair.generate().public_key, KeyPair.generate().public_key
    assert safety_number("a", a, "b", b).display != safety_number("a2", a, "b", b).display


def test_qr_code_renders_svg_and_png() -> None:
    a, b = KeyPair.generate().public_key, KeyPair.generate().public_key
    fingerprint = safety_number("alice", a, "bob", b)
    svg = fingerprint.qr_svg()
    png = fingerprint.qr_png()
    assert svg.lstrip().startswith(b"<?xml")
    assert b"<svg" in svg
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(fingerprint.scannable) == 2 + 2 * (2 + 2 + 32)
