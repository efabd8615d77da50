"""Values that cross the trust boundary between a test (trusted) and the candidate's queue.

Only plain data crosses, in a tagged JSON form that keeps apart what JSON alone would merge
(int and bool, str and bytes, list and tuple, dicts with non-str keys) and what it cannot
carry (bytes, exceptions, non-finite floats):

    ["n"]  None          ["b", true]   bool        ["i", 5]   int       ["f", "1.5"]  float
    ["s", "x"]  str      ["y", "aGk="] bytes       ["l", [..]] list     ["t", [..]]   tuple
    ["d", [[k, v], ..]]  dict          ["e", "ValueError", ["arg", ..]]   an exception
    ["h", 7, {..}]  an opaque handle: any other object stays on the sender's side, named by a
              number, with what the sender tells about it (a function's name and parameters)
    ["r", 7]  a handle the receiver gave out earlier, sent back (resolves to its object)

Decoding never runs code of the other side and never unpickles: an exception comes back as
an instance of the builtin class of that name (else `RemoteError`), built here from decoded
args; an object whose `__eq__` lies to the tests does not survive the trip (it becomes a
handle, equal only to itself). Stdlib only: this module runs on both sides of the sandbox.
"""

import base64
import builtins
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64
"""Nesting allowed in one value (a hostile value cannot exhaust the decoder's stack)."""
MAX_ITEMS = 100_000
"""Elements allowed in one value, all containers together."""

Tagged = list[Any]


class WireError(ValueError):
    """A value that cannot cross: malformed, too deep or too large."""


class RemoteError(Exception):
    """An exception of a class that is not a builtin, raised on the other side."""

    def __init__(self, type_name: str, *args: object) -> None:
        super().__init__(*args)
        self.type_name = type_name

    def __str__(self) -> str:
        return f"{self.type_name}: {super().__str__()}"


class Handle:
    """An object that stayed on the other side; equal only to the handle of that object."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = number

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.number == self.number

    def __hash__(self) -> int:
        return hash(("jqbench-handle", self.number))

    def __repr__(self) -> str:
        return f"<object #{self.number} of the other side>"


class Handles:
    """One side's table of objects it handed out as handles (kept alive while referenced)."""

    def __init__(self) -> None:
        self._objects: list[object] = []
        self._numbers: dict[int, int] = {}

    def number(self, obj: object) -> int:
        known = self._numbers.get(id(obj))
        if known is not None and self._objects[known] is obj:
            return known
        self._objects.append(obj)
        self._numbers[id(obj)] = len(self._objects) - 1
        return len(self._objects) - 1

    def resolve(self, number: int) -> object:
        if not 0 <= number < len(self._objects):
            raise WireError(f"unknown handle {number}")
        return self._objects[number]


def _builtin_exception(name: str) -> type[BaseException] | None:
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return None


class Encoder:
    """Turns a value into its tagged form; objects that are not plain data become handles of
    `handles` (None: they are refused), and `Handle`s received earlier go back as such."""

    def __init__(self, handles: Handles | None = None,
                 returned: Callable[[object], int | None] | None = None,
                 describe: Callable[[object], dict[str, Any]] | None = None) -> None:
        self._handles = handles
        self._returned = returned or _handle_number
        self._describe = describe
        self._items = 0

    def __call__(self, value: object) -> Tagged:
        self._items = 0
        return self._encode(value, 0)

    def _count(self, depth: int) -> None:
        self._items += 1
        if depth > MAX_DEPTH or self._items > MAX_ITEMS:
            raise WireError("value too deep or too large to cross")

    def _encode(self, value: object, depth: int) -> Tagged:
        self._count(depth)
        kind = type(value)  # exact types: a subclass of int may override __eq__
        if value is None:
            return ["n"]
        if kind is bool:
            return ["b", value]
        if kind is int:
            return ["i", value]
        if kind is float:
            return ["f", repr(value)]
        if kind is str:
            return ["s", value]
        if kind is bytes:
            return ["y", base64.b64encode(value).decode()]  # type: ignore[arg-type]
        if kind is list or kind is tuple:
            tag = "l" if kind is list else "t"
            return [tag, [self._encode(item, depth + 1) for item in value]]  # type: ignore[attr-defined]
        if kind is dict:
            return ["d", [[self._encode(k, depth + 1), self._encode(v, depth + 1)]
                          for k, v in value.items()]]  # type: ignore[attr-defined]
        if isinstance(value, BaseException):
            return ["e", type(value).__name__, [self._plain_arg(a, depth) for a in value.args]]
        returned = self._returned(value)
        if returned is not None:
            return ["r", returned]
        if self._handles is None:
            raise WireError(f"a {kind.__name__} cannot cross")
        number = self._handles.number(value)
        return ["h", number, self._describe(value)] if self._describe else ["h", number]

    def _plain_arg(self, arg: object, depth: int) -> Tagged:
        """An exception's argument: plain data, else its repr (never a handle)."""
        try:
            return Encoder(None)._encode(arg, depth + 1)
        except WireError:
            return ["s", _safe_repr(arg)]


def _handle_number(value: object) -> int | None:
    return value.number if type(value) is Handle else None


def _safe_repr(value: object) -> str:
    try:
        return repr(value)[:500]
    except Exception:  # a hostile __repr__
        return f"<{type(value).__name__}>"


class Decoder:
    """Turns a tagged form back into a value. A handle sent back ("r") resolves in our own
    table (`own`); a handle of the other side ("h") becomes a `Handle`, or what `remote`
    makes of its number (a stub that calls back, say)."""

    def __init__(self, own: Handles | None = None,
                 remote: Callable[[int, dict[str, Any]], object] | None = None) -> None:
        self._own = own
        self._remote = remote or (lambda number, _: Handle(number))
        self._items = 0

    def __call__(self, data: object) -> Any:
        self._items = 0
        return self._decode(data, 0)

    def _decode(self, data: object, depth: int) -> Any:
        self._items += 1
        if depth > MAX_DEPTH or self._items > MAX_ITEMS:
            raise WireError("value too deep or too large")
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise WireError(f"malformed value {str(data)[:80]}")
        tag, rest = data[0], data[1:]
        try:
            return self._by_tag(tag, rest, depth)
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            if isinstance(exc, WireError):
                raise
            raise WireError(f"malformed {tag!r} value: {exc}") from None

    def _by_tag(self, tag: str, rest: list[Any], depth: int) -> Any:
        if tag == "n":
            return None
        if tag == "b":
            return _typed(rest[0], bool)
        if tag == "i":
            return _typed(rest[0], int)
        if tag == "f":
            return float(_typed(rest[0], str))
        if tag == "s":
            return _typed(rest[0], str)
        if tag == "y":
            return base64.b64decode(_typed(rest[0], str), validate=True)
        if tag in ("l", "t"):
            items = [self._decode(item, depth + 1) for item in _typed(rest[0], list)]
            return items if tag == "l" else tuple(items)
        if tag == "d":
            result = {}
            for pair in _typed(rest[0], list):
                key, value = _typed(pair, list)
                result[self._decode(key, depth + 1)] = self._decode(value, depth + 1)
            return result
        if tag == "e":
            name = _typed(rest[0], str)
            args = [self._decode(a, depth + 1) for a in _typed(rest[1], list)]
            cls = _builtin_exception(name)
            return cls(*args) if cls is not None else RemoteError(name, *args)
        if tag == "h":
            about = _typed(rest[1], dict) if len(rest) > 1 else {}
            return self._remote(_typed(rest[0], int), about)
        if tag == "r":
            if self._own is None:
                raise WireError("no handles were given out here")
            return self._own.resolve(_typed(rest[0], int))
        raise WireError(f"unknown tag {tag!r}")


def _typed(value: object, kind: type) -> Any:
    if type(value) is not kind:
        raise WireError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value
