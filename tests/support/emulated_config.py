"""The ``run`` configuration that points both platforms at the emulators (tests and benches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def emulated_config(
    telegram: Any, discord: Any, ops_port: int, level: str = "INFO", storage: Path | None = None
) -> str:
    """TOML for Telegram polling and the Discord gateway against the emulators, ops server on."""
    text = f"""
[telegram]
enabled = true
api_base_url = "{telegram.base_url}"
mode = "polling"
poll_timeout = 1
[discord]
enabled = true
api_base_url = "{discord.api_base_url}"
gateway_url = "{discord.gateway_url}"
[ops]
enabled = true
port = {ops_port}
[logging]
level = "{level}"
"""
    if storage is not None:
        text += f'[storage]\npath = "{storage}"\n'
    return text
