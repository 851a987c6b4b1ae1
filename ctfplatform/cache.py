"""The embedded shared cache: files under VAR_DIR that every process reads.

Without REDIS_URL the dev server, management commands and the task worker must
see one another's writes at once (a revoked token, a ban, a new catalog
version), which a per-process memory cache cannot give. Django's file cache is
shared but not atomic: its `add` and `incr` read, then write. Here every write
holds one exclusive lock on the folder (flock), so an `add` cannot overwrite a
marker written meanwhile and no increment is lost. Reads take no lock: a value
is written to a temporary file and renamed into place.
"""

import fcntl
import os
import pickle
import random
import threading
import time
import zlib
from contextlib import contextmanager

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache

# The folder is listed to cull it at most once per this many writes: listing
# costs about 1 ms per thousand entries.
CULL_EVERY = 100


class SharedFileCache(FileBasedCache):
    def __init__(self, dir, params):
        super().__init__(dir, params)
        self._lock_path = os.path.join(self._dir, "writers.lock")
        self._held = threading.local()  # lock depth of this thread
        self._writes = 0

    @contextmanager
    def _writing(self):
        """Hold the folder's write lock (re-entrant within a thread).

        Opened per write, not kept: a forked worker must not share the parent's
        lock, which flock ties to the open file.
        """
        depth = getattr(self._held, "depth", 0)
        if depth:
            self._held.depth = depth + 1
            try:
                yield
            finally:
                self._held.depth = depth
            return
        self._createdir()
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0
        finally:
            os.close(fd)  # releases the lock

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._writing():
            super().set(key, value, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._writing():
            if self.has_key(key, version):
                return False
            super().set(key, value, timeout, version)
            return True

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        with self._writing():
            return super().touch(key, timeout, version)

    def delete(self, key, version=None):
        with self._writing():
            return super().delete(key, version)

    def clear(self):
        with self._writing():
            super().clear()

    def incr(self, key, delta=1, version=None):
        """Add `delta` and keep the entry's expiry (as Redis does)."""
        fname = self._key_to_file(key, version)
        with self._writing():
            try:
                with open(fname, "rb") as f:
                    # Files only this installation writes (0700), like Django's.
                    expiry = pickle.load(f)  # noqa: S301
                    value = pickle.loads(zlib.decompress(f.read()))  # noqa: S301
            except (FileNotFoundError, EOFError):
                expiry = value = None
            if value is None or (expiry is not None and expiry < time.time()):
                raise ValueError(f"Key '{key}' not found")
            value += delta
            timeout = None if expiry is None else max(expiry - time.time(), 0.001)
            super().set(key, value, timeout, version)
        return value

    def _is_expired(self, f):
        # Unlike the parent, never delete here: a reader holds no lock, and the
        # file it read may have been replaced with a fresh value meanwhile.
        try:
            expiry = pickle.load(f)  # noqa: S301
        except EOFError:
            return True
        return expiry is not None and expiry < time.time()

    def _cull(self):
        """Drop expired entries, then random ones past MAX_ENTRIES (under the
        write lock, called by `set`)."""
        self._writes += 1
        if self._writes % CULL_EVERY:
            return
        files = self._list_cache_files()
        if len(files) < self._max_entries:
            return
        live = []
        for fname in files:
            try:
                with open(fname, "rb") as f:
                    expired = self._is_expired(f)
            except FileNotFoundError:
                continue
            if expired:
                self._delete(fname)
            else:
                live.append(fname)
        if len(live) >= self._max_entries and self._cull_frequency:
            for fname in random.sample(live, len(live) // self._cull_frequency):
                self._delete(fname)
