"""bot.runtime.rasa_entry: the token reaches Rasa's command line whatever characters it holds."""

from __future__ import annotations

import argparse
import sys

import pytest

from bot.runtime import rasa_entry
from bot.settings import overridden


@pytest.mark.parametrize("token", ["-starts-with-a-dash", "plain_token_0123456789"])
def test_the_auth_token_is_one_argument(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.__main__

    seen: list[list[str]] = []
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr("bot.runtime.rasa_patches.apply_all", lambda: None)
    monkeypatch.setattr(sys, "argv", ["rasa_entry", "run", "--enable-api"])
    with overridden(RASA_TOKEN=token):
        rasa_entry.main()
    assert seen == [["rasa", "run", "--enable-api", f"--auth-token={token}"]]
    parser = argparse.ArgumentParser()
    parser.add_argument("-t", "--auth-token")
    assert parser.parse_args(seen[0][3:]).auth_token == token  # argparse reads it back whole
