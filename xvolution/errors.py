"""One error type for the public API: a one-line message that names what is wrong."""
from __future__ import annotations


class DeployError(ValueError):
    """Bad input to the deployment API or command: the message names the field."""


def require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise DeployError(f"{name}: {message}")
