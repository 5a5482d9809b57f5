"""Callback data: signed, within 64 bytes, refused when forged, malformed or of the wrong shape."""

from __future__ import annotations

import pytest

from bot.buttons import MAX_DATA, Action, Press, Signer
from bot.services import SearchSessions

SIGNER = Signer("123:secret")


@pytest.mark.parametrize(
    ("action", "args"),
    [("m", (1,)), ("r", (2**62,)), ("ua", ()), ("x", ()), ("rf", (7,)), ("p", ("a1b2c3d4", 3))],
    ids=["mute", "big-id", "all", "cancel", "feed", "page"],
)
def test_round_trip(action: str, args: tuple[object, ...]) -> None:
    data = SIGNER.data(Action(action), *args)
    assert len(data.encode()) <= MAX_DATA
    assert SIGNER.verify(data) == Press(Action(action), tuple(map(str, args)))


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "m:1",
        "m:1:AAAAAAAA",
        "zz:1:" + SIGNER.data(Action.MUTE, 1)[-8:],
        "x" * 65,
        "m:1:2:" + SIGNER.data(Action.MUTE, 1)[-8:],
    ],
    ids=["none", "empty", "unsigned", "bad-mac", "unknown-action", "too-long", "wrong-arity"],
)
def test_forged_or_malformed_data_is_refused(data: str | None) -> None:
    assert SIGNER.verify(data) is None


def test_another_bots_signature_is_refused() -> None:
    assert Signer("999:other").verify(SIGNER.data(Action.MUTE, 1)) is None


def test_search_keys_are_valid_arguments() -> None:
    sessions = SearchSessions()
    for _ in range(200):
        key = sessions.new(1, "nato")
        assert SIGNER.verify(SIGNER.data(Action.PAGE, key, 0)) is not None
        assert sessions.get(key, 2) is None  # another chat's search is not yours
