"""Annotation facts as plain data, and back.

Analyses write facts that are attrs objects (types, intervals, coeffects,
hyperedges).  The MLIR text form holds only plain data (int, float, str,
bool, None and tuples of those), so `to_plain` encodes a fact as tagged
tuples and `from_plain` rebuilds an equal one:

    attrs object  ("@obj", "module:Qualname", (field, value)...)
    frozenset     ("@frozenset", item...)          items in a canonical order
    list / dict   ("@list", item...) / ("@dict", (key, value)...)
    tuple         itself, or ("@tuple", item...) when its first item is a
                  string starting with "@" (so that no tuple reads as a tag)
    other         ("@via", "module:decoder", payload) for a class a module
                  registered with `register_encoding` (sympy formulas, by the
                  flow-loss algebra): the codec stays ignorant of them

Classes and decoders are found only in modules already imported or under
`nanopass.`: decoding text never imports arbitrary code.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

import attrs

PLAIN_SCALARS = (int, float, str, bool, type(None))


class NotEncodable(ValueError):
    """A fact holds something that has no plain-data form."""


# Base class -> (encode to plain data, "module:function" that decodes it), in registration order.
_ENCODINGS: dict[type, tuple[Callable[[Any], Any], str]] = {}


def register_encoding(base: type, encode: Callable[[Any], Any], decoder: str) -> None:
    """Encode instances of ``base`` as ``encode(value)``, decoded by the function at ``decoder``
    (``"nanopass.module:function"``, imported on first use)."""
    _ENCODINGS[base] = (encode, decoder)


def to_plain(value: Any) -> Any:
    if isinstance(value, PLAIN_SCALARS):
        return value
    if isinstance(value, tuple):
        items = tuple(to_plain(v) for v in value)
        if items and isinstance(items[0], str) and items[0].startswith("@"):
            return ("@tuple", *items)
        return items
    if isinstance(value, frozenset):
        return ("@frozenset", *sorted((to_plain(v) for v in value), key=repr))
    if isinstance(value, list):
        return ("@list", *(to_plain(v) for v in value))
    if isinstance(value, dict):
        return ("@dict", *((to_plain(k), to_plain(v)) for k, v in value.items()))
    cls = type(value)
    if attrs.has(cls):
        fields = tuple((a.name, to_plain(getattr(value, a.name))) for a in attrs.fields(cls))
        return ("@obj", f"{cls.__module__}:{cls.__qualname__}", *fields)
    for base, (encode, decoder) in _ENCODINGS.items():
        if isinstance(value, base):
            return ("@via", decoder, to_plain(encode(value)))
    raise NotEncodable(f"{value!r} of type {cls.__name__} has no plain-data form")


def from_plain(data: Any) -> Any:
    if not isinstance(data, tuple):
        return data
    tag = data[0] if data and isinstance(data[0], str) else None
    if tag == "@tuple":
        return tuple(from_plain(v) for v in data[1:])
    if tag == "@frozenset":
        return frozenset(from_plain(v) for v in data[1:])
    if tag == "@list":
        return [from_plain(v) for v in data[1:]]
    if tag == "@dict":
        return {from_plain(k): from_plain(v) for k, v in data[1:]}
    if tag == "@obj":
        return _build(data[1], {name: from_plain(v) for name, v in data[2:]})
    if tag == "@via":
        decode = _find(data[1], "decoder")
        if not callable(decode):
            raise NotEncodable(f"{data[1]} is not a decoder")
        return decode(from_plain(data[2]))
    return tuple(from_plain(v) for v in data)


def _find(path: str, what: str) -> Any:
    module_name, _, qualname = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None and (module_name == "nanopass" or module_name.startswith("nanopass.")):
        module = importlib.import_module(module_name)
    if module is None:
        raise NotEncodable(f"{what} {path} is not loaded; import its module before reading the text")
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _build(path: str, values: dict[str, Any]) -> Any:
    cls: Any = _find(path, "class")
    if cls is None or not attrs.has(cls):
        raise NotEncodable(f"{path} is not an attrs class")
    fields = attrs.fields(cls)
    obj = cls(**{a.alias: values[a.name] for a in fields if a.init and a.name in values})
    for a in fields:
        if not a.init and a.name in values:
            object.__setattr__(obj, a.name, values[a.name])
    return obj
