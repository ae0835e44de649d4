"""The form registry: one ``EngineForm`` a form (hw/attention/<form>.py), the only place in hw/
and sim/ where forms are named.  ``engine_form(cfg)`` is the entry of a configuration."""
from __future__ import annotations

from golden.config import XvConfig

from . import conv, involution, pssa, sa
from .base import AttentionTiming, EngineForm, attention_signature

#: The forms the engine builds, by name.
FORMS: dict[str, EngineForm] = {f.name: f for f in (pssa.FORM, sa.FORM, involution.FORM,
                                                     conv.FORM)}


def engine_form(cfg: XvConfig) -> EngineForm:
    """The registry entry of ``cfg.attention``; ValueError naming the forms there are."""
    try:
        return FORMS[cfg.attention]
    except KeyError:
        raise ValueError(f"attention: the engine implements {tuple(FORMS)}, got "
                         f"{cfg.attention!r}") from None


__all__ = ["FORMS", "AttentionTiming", "EngineForm", "attention_signature", "engine_form"]
