"""cropaudit: reproducible audits of saliency-based image cropping for demographic bias.

The public API (docs/api.md) is what ``__all__`` names: :func:`saliency` (one image through
one cropper), :func:`load_cropper`, :func:`audit` (a whole audit) and the types they return.
It lives in :mod:`cropaudit.api` and is imported on first use, so ``import cropaudit`` (which
every command does) stays cheap. The saliency engine itself is the subpackage
:mod:`cropaudit.engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AuditResult", "Cropper", "Saliency", "audit", "load_cropper", "saliency"]

if TYPE_CHECKING:
    from cropaudit.api import AuditResult, Cropper, Saliency, audit, load_cropper, saliency

_LAZY = frozenset(__all__)


def __getattr__(name: str) -> Any:
    """The API's names, imported from :mod:`cropaudit.api` when first asked for."""
    if name in _LAZY:
        from cropaudit import api

        return getattr(api, name)
    raise AttributeError(f"module 'cropaudit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
