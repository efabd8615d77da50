"""L4's recorder for the strict suites: which thread holds which lock when a job id is
written to a job mapping (data for the sandbox; stdlib only, never the stdlib `queue`).

L4 (the unguarded results write). The candidate is imported, built and run while
threading.Lock, RLock, Semaphore and BoundedSemaphore are replaced by recording versions, so
every lock the candidate creates (also inside a Condition, a queue.Queue or a module-level
lock) records which thread holds it; a Semaphore counts as a lock only when created with
value 1. Each dict, defaultdict or OrderedDict the queue keeps in an attribute is replaced
by a copy that records every write (key, thread, whether that thread then held any recorded
lock) and every thread that reads it: while JobQueue() runs, at the moment the candidate's
own classes assign it (so a worker started in __init__, or given the dict as an argument,
already uses the copy); after that, for those of the instance, of objects of the candidate's
classes it holds, and class-level dicts, that are still plain. A mapping that receives a job id
returned by add_job is a job mapping. Rule: every write of a job id (and every clear) to a
job mapping must be made while the writing thread holds a lock - unless that mapping is
touched by one thread only (a queue.Queue hand-off that the reader drains into its own
dict: results cross threads through the thread-safe queue, and the dict is never shared).
The source text is never read. A queue that keeps its results in no dict attribute is judged
by the 100-job check alone.
"""

import _thread
import collections
import itertools
import sys
import threading
import time

# --- L4: who holds a lock when a job id is written --------------------------------------------

_ORIGINALS = {name: getattr(threading, name)
              for name in ("Lock", "RLock", "Semaphore", "BoundedSemaphore")}
_SEQUENCE = itertools.count()


class _Holders:
    """Thread id -> number of recorded locks it holds right now."""

    def __init__(self) -> None:
        self._guard = _thread.allocate_lock()
        self._depth: dict[int, int] = {}

    def change(self, ident: int, step: int) -> None:
        with self._guard:
            depth = self._depth.get(ident, 0) + step
            if depth > 0:
                self._depth[ident] = depth
            else:
                self._depth.pop(ident, None)

    def holds(self, ident: int) -> bool:
        return self._depth.get(ident, 0) > 0


HOLDERS = _Holders()


def _note_acquired(owners: list) -> None:
    me = threading.get_ident()
    owners.append(me)
    HOLDERS.change(me, +1)


def _note_released(owners: list) -> None:
    """The releasing thread stops holding; a lock released by another thread than the one
    that took it (allowed for Lock) stops being held by its taker."""
    me = threading.get_ident()
    if me in owners:
        owners.reverse()
        owners.remove(me)
        owners.reverse()
        HOLDERS.change(me, -1)
    elif owners:
        HOLDERS.change(owners.pop(0), -1)


class RecordedLock:
    """Stands for a Lock or RLock and records which threads hold it; otherwise the same."""

    def __init__(self, target) -> None:
        self._target = target
        self._owners: list[int] = []

    def acquire(self, blocking=True, timeout=-1):
        got = self._target.acquire(blocking, timeout)
        if got:
            _note_acquired(self._owners)
        return got

    def release(self):
        _note_released(self._owners)
        self._target.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()

    def locked(self):
        return self._target.locked()

    def __getattr__(self, name):  # _is_owned, _release_save, _at_fork_reinit, ...
        if name == "_target":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return f"<recorded {self._target!r}>"


class _RecordedSemaphoreMixin:
    """A Semaphore created with value 1 (a mutex) records its holders; others do not."""

    def __init__(self, value=1):
        super().__init__(value)
        self._jq_owners = [] if value == 1 else None

    def acquire(self, blocking=True, timeout=None):
        got = super().acquire(blocking, timeout)
        if got and self._jq_owners is not None:
            _note_acquired(self._jq_owners)
        return got

    __enter__ = acquire

    def release(self, n=1):
        if self._jq_owners is not None:
            _note_released(self._jq_owners)
        super().release(n)

    def __exit__(self, *exc_info):
        self.release()


class _RecordedSemaphore(_RecordedSemaphoreMixin, _ORIGINALS["Semaphore"]):
    pass


class _RecordedBoundedSemaphore(_RecordedSemaphoreMixin, _ORIGINALS["BoundedSemaphore"]):
    pass


def _recorded_lock():
    return RecordedLock(_ORIGINALS["Lock"]())


def _recorded_rlock(*args, **kwargs):
    return RecordedLock(_ORIGINALS["RLock"](*args, **kwargs))


_REPLACEMENTS = {"Lock": _recorded_lock, "RLock": _recorded_rlock,
                 "Semaphore": _RecordedSemaphore, "BoundedSemaphore": _RecordedBoundedSemaphore}


class RecordedLocks:
    """While active, every Lock, RLock and Semaphore created anywhere records its holders."""

    def __enter__(self):
        for name, replacement in _REPLACEMENTS.items():
            setattr(threading, name, replacement)
        return self

    def __exit__(self, *exc_info):
        for name, original in _ORIGINALS.items():
            setattr(threading, name, original)


ANY_KEY = object()
"""The key noted for a write that touches every key (clear, popitem of an unknown key)."""


class WriteLog:
    """The writes to one watched mapping and the threads that touched it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.writes: list[tuple] = []
        """(sequence number, key, thread id, thread name, held a recorded lock, monotonic)"""
        self.threads: set[int] = set()

    def write(self, key) -> None:
        me = threading.get_ident()
        self.threads.add(me)
        self.writes.append((next(_SEQUENCE), key, me, threading.current_thread().name,
                            HOLDERS.holds(me), time.monotonic()))

    def read(self) -> None:
        self.threads.add(threading.get_ident())


def _log_of(mapping):
    return getattr(mapping, "_jq_log", None)


def _note_write(mapping, key) -> None:
    log = _log_of(mapping)
    if log is not None:
        log.write(key)


def _note_read(mapping) -> None:
    log = _log_of(mapping)
    if log is not None:
        log.read()


def _recording_class(base):
    """A subclass of `base` (dict, defaultdict or OrderedDict) noting writes and readers."""

    def __setitem__(self, key, value):
        _note_write(self, key)
        base.__setitem__(self, key, value)

    def __delitem__(self, key):
        _note_write(self, key)
        base.__delitem__(self, key)

    def pop(self, key, *default):
        _note_write(self, key)
        return base.pop(self, key, *default)

    def popitem(self, *args, **kwargs):
        item = base.popitem(self, *args, **kwargs)
        _note_write(self, item[0])
        return item

    def setdefault(self, key, default=None):
        if base.__contains__(self, key):
            _note_read(self)
        else:
            _note_write(self, key)
        return base.setdefault(self, key, default)

    def update(self, *args, **kwargs):
        items = dict(*args, **kwargs)
        for key in items:
            _note_write(self, key)
        base.update(self, items)

    def __ior__(self, other):
        self.update(other)
        return self

    def clear(self):
        _note_write(self, ANY_KEY)
        base.clear(self)

    namespace = {f.__name__: f for f in (__setitem__, __delitem__, pop, popitem, setdefault,
                                          update, __ior__, clear)}
    for name in ("__getitem__", "get", "__contains__", "keys", "values", "items", "__iter__",
                 "__len__", "copy", "__eq__", "__repr__"):
        namespace[name] = _reader(base, name)
    return type(f"Recorded{base.__name__}", (base,), namespace)


def _reader(base, name):
    method = getattr(base, name)

    def read(self, *args, **kwargs):
        _note_read(self)
        return method(self, *args, **kwargs)

    read.__name__ = name
    return read


_WATCHABLE = (dict, collections.defaultdict, collections.OrderedDict)
_RECORDING_CLASSES = {base: _recording_class(base) for base in _WATCHABLE}


def _recording_copy(mapping, name: str):
    base = type(mapping)
    cls = _RECORDING_CLASSES[base]
    if base is collections.defaultdict:
        copy = cls(mapping.default_factory, mapping)
    else:
        copy = cls(mapping)
    copy._jq_log = WriteLog(name)
    return copy


def _attributes(obj) -> dict:
    """The instance attributes of `obj` (its __dict__ and its slots)."""
    found = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                found.setdefault(slot, getattr(obj, slot))
    return found


def _own_objects(q) -> list:
    """Objects of the candidate's own classes that the queue holds in attributes."""
    module = type(q).__module__
    return [value for value in _attributes(q).values()
            if type(value).__module__ == module and not isinstance(value, type)
            and not callable(value)]


class _Copies:
    """Recording copies of mappings, one per original, so a mapping shared by two attributes
    stays shared."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple] = {}
        self.logs: list[WriteLog] = []

    def of(self, value, name: str):
        """The recording copy of `value` if it is a watchable mapping, else `value` itself."""
        if type(value) not in _WATCHABLE:
            return value
        if id(value) not in self._by_id:
            copy = _recording_copy(value, name)
            self._by_id[id(value)] = (value, copy)  # the original is kept: ids stay unique
            self.logs.append(copy._jq_log)
        return self._by_id[id(value)][1]


def _candidate_classes(cls) -> list[type]:
    """The classes defined in the candidate's module (JobQueue's own and its helpers')."""
    module = sys.modules.get(cls.__module__)
    found = [value for value in vars(module).values()
             if isinstance(value, type) and value.__module__ == cls.__module__] if module else []
    return [cls, *(c for c in found if c is not cls)]


def _patch_setattr(classes: list[type], copies: _Copies) -> list[tuple]:
    """Make attribute assignments of these classes store recording copies of mappings."""
    patched = []
    for cls in classes:
        own = cls.__dict__.get("__setattr__")
        inherited = cls.__setattr__

        def recording_setattr(self, name, value, _inherited=inherited):
            _inherited(self, name, copies.of(value, f"{type(self).__name__}.{name}"))

        try:
            cls.__setattr__ = recording_setattr
        except (TypeError, AttributeError):
            continue
        patched.append((cls, own))
    return patched


def _restore_setattr(patched: list[tuple]) -> None:
    for cls, own in reversed(patched):
        if own is None:
            delattr(cls, "__setattr__")
        else:
            cls.__setattr__ = own


def build_watched(job_queue_class):
    """JobQueue() with its mappings replaced by recording copies; (queue, write logs).

    While JobQueue() runs, every attribute assignment of a mapping by one of the candidate's
    classes stores a recording copy instead, so a worker thread started in __init__ (or a
    reference it was given) already sees the copy. Mappings that got in by other means
    (class attributes, __dict__ writes) are swapped right after. Not observed: a mapping that
    the candidate never stores in an attribute.
    """
    copies = _Copies()
    patched = _patch_setattr(_candidate_classes(job_queue_class), copies)
    try:
        q = job_queue_class()
    finally:
        _restore_setattr(patched)
    _swap_remaining(q, copies)
    return q, copies.logs


def _swap_remaining(q, copies: _Copies) -> None:
    """Swap the mappings still held as plain dicts (module docstring: which ones)."""
    module = type(q).__module__
    for owner, prefix in [(q, ""), *((obj, f"{type(obj).__name__}.") for obj in _own_objects(q))]:
        found = _attributes(owner)
        if owner is q:
            for cls in reversed(type(q).__mro__):
                if cls.__module__ == module:
                    found.update({name: value for name, value in vars(cls).items()
                                  if not name.startswith("__") and name not in found
                                  and type(value) in _WATCHABLE})
        for name, value in found.items():
            if type(value) in _WATCHABLE:
                try:
                    object.__setattr__(owner, name, copies.of(value, prefix + name))
                except Exception:
                    continue


def written_since(logs: list[WriteLog], key, since: float) -> bool:
    """True when some watched mapping got a write of `key` at or after monotonic `since`."""
    return any(write[1] is not ANY_KEY and _is_job_id(write[1], {key}) and write[5] >= since
               for log in logs for write in list(log.writes))


def unguarded_job_writes(logs: list[WriteLog], job_ids) -> list[str]:
    """Why the writes of job ids break the L4 rule (module docstring); empty when they do not."""
    ids = set(job_ids)
    problems = []
    for log in logs:
        keyed = [w for w in log.writes if w[1] is ANY_KEY or _is_job_id(w[1], ids)]
        if not any(w[1] is not ANY_KEY for w in keyed):
            continue  # no job id was ever written: not a mapping of jobs
        if len(log.threads) <= 1:
            continue  # touched by one thread only: nothing is shared
        bad = [w for w in keyed if not w[4]]
        if bad:
            problems.append(
                f"{log.name}: {len(bad)} of {len(keyed)} writes of job ids were made without "
                f"holding a lock (first by thread {bad[0][3]!r}), while {len(log.threads)} "
                "threads use this mapping")
    return problems


def _is_job_id(key, ids: set) -> bool:
    try:
        return key in ids
    except Exception:
        return False
