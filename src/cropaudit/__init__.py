"""cropaudit: reproducible audits of saliency-based image cropping for demographic bias.

The public API (docs/api.md) is what ``__all__`` names: :func:`saliency` (one image through
one cropper), :func:`load_cropper`, :func:`audit` (a whole audit) and the types they return.
It lives in :mod:`cropaudit.api` and is imported on first use, so ``import cropaudit`` (which
every command does) stays cheap.

``cropaudit.saliency`` is also the name of the saliency engine's subpackage
(``cropaudit.saliency.loader``, ...): that module object is made callable, and calling it
calls :func:`cropaudit.api.saliency`. (When the subpackage is renamed, ``saliency`` becomes the
plain function, with the same signature.)
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AuditResult", "Cropper", "Saliency", "audit", "load_cropper", "saliency"]

if TYPE_CHECKING:
    from cropaudit.api import AuditResult, Cropper, Saliency, audit, load_cropper

_LAZY = frozenset({"AuditResult", "Cropper", "Saliency", "audit", "load_cropper"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from cropaudit import api

        return getattr(api, name)
    raise AttributeError(f"module 'cropaudit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _CallableSaliencyPackage(types.ModuleType):
    """The ``cropaudit.saliency`` package, callable as :func:`cropaudit.api.saliency`."""

    def __call__(self, image: Any, cropper: Any = "fastgaze", **kwargs: Any) -> Any:
        """The saliency map, point and crops of one image (:func:`cropaudit.api.saliency`)."""
        from cropaudit import api

        return api.saliency(image, cropper, **kwargs)


# The engine's package __init__ imports nothing, so this costs no engine start-up.
from cropaudit import saliency as _saliency_package  # noqa: E402

_saliency_package.__class__ = _CallableSaliencyPackage
