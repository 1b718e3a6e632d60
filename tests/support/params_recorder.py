"""A params object that records every params.yaml key the code under test reads.

:func:`recording` returns a copy of validated params whose models are subclasses of the real
ones (``isinstance`` and attribute access behave as usual) that note each field read as a
dotted key (``faces.min_confidence``). Reading a nested model is not a read by itself; its
fields are. Dumping or copying a model reads all of it (its key; ``*`` for the whole file).
A mapping-valued field (``cropper_options``) notes the key looked up (``cropper_options.smartcrop``)
and all of itself when iterated.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
#: Methods that expose every field of a model at once.
WHOLE_MODEL_READS = frozenset({"model_dump", "model_dump_json", "model_copy", "__iter__",
                               "__eq__", "__repr_args__"})


def recording(model: M, reads: set[str], prefix: str = "") -> M:
    """A recording copy of ``model``; keys read are added to ``reads``."""
    cls = type(model)
    values: dict[str, Any] = {}
    for name in cls.model_fields:
        value = model.__dict__[name]
        if isinstance(value, BaseModel):
            value = recording(value, reads, f"{prefix}{name}.")
        values[name] = value
    sub = _recording_class(cls, reads, prefix)
    return sub.model_construct(_fields_set=set(model.model_fields_set), **values)


class RecordingDict(dict):
    """A mapping field that notes ``<field>.<key>`` per look-up, ``<field>`` when iterated."""

    def __init__(self, data: dict, reads: set[str], key: str) -> None:
        super().__init__(data)
        self._reads, self._key = reads, key

    def get(self, key: Any, default: Any = None) -> Any:
        self._reads.add(f"{self._key}.{key}")
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self._reads.add(f"{self._key}.{key}")
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._reads.add(f"{self._key}.{key}")
        return super().__contains__(key)

    def __iter__(self) -> Any:
        self._reads.add(self._key)
        return super().__iter__()

    def items(self) -> Any:
        self._reads.add(self._key)
        return super().items()


def _recording_class(cls: type[M], reads: set[str], prefix: str) -> type[M]:
    fields = frozenset(cls.model_fields)
    whole = prefix.rstrip(".") or "*"

    def __getattribute__(self: Any, name: str) -> Any:
        value = cls.__getattribute__(self, name)
        if name in fields:
            if isinstance(value, dict):
                return RecordingDict(value, reads, prefix + name)
            if not isinstance(value, BaseModel):
                reads.add(prefix + name)
        elif name in WHOLE_MODEL_READS:
            reads.add(whole)
        return value

    return type(f"Recording{cls.__name__}", (cls,), {
        "__getattribute__": __getattribute__, "__module__": __name__,
    })
