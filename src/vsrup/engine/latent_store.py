"""A whole video's latents kept off the accelerator, and per-step checkpoints of them.

Methods whose official code treats the video as one tensor (STCDiT samples all latent frames
in one run) cannot hold it on the GPU for long videos. `LatentStore` keeps such a tensor in
host RAM while it is small and in a memory-mapped file once it passes `spill_bytes` (the OS
then pages it in and out, so host RAM stays bounded too); the GPU only ever sees the slices a
tile reads or writes.

`SteppedLatents` adds crash safety to an iterative update (one denoising step reads the whole
state and writes a new one): two stores alternate, a step writes only the one not holding the
last finished state, and a small JSON file, replaced atomically after the data is flushed,
says which one holds it and after how many steps. A crash in step k therefore loses only
step k, and the resumed run reads exactly the bytes the interrupted one had written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Above this size a store lives in a memory-mapped file rather than in RAM.
DEFAULT_SPILL_BYTES = 2 * 1024**3

Index = tuple[slice | int, ...]


class LatentStore:
    """A fixed-shape float array in host RAM or, past `spill_bytes` (or when `persistent`),
    in the file `path`; read and written as torch tensors by index."""

    def __init__(
        self,
        shape: Sequence[int],
        path: Path | None = None,
        *,
        dtype: np.dtype | type = np.float32,
        spill_bytes: int = DEFAULT_SPILL_BYTES,
        persistent: bool = False,
        existing: bool = False,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self.path = path
        self.spilled = persistent or existing or self.nbytes > spill_bytes
        if self.spilled:
            if path is None:
                raise ValueError("a store that spills to disk needs a file path")
            path.parent.mkdir(parents=True, exist_ok=True)
            if existing and (not path.is_file() or path.stat().st_size != self.nbytes):
                raise FileNotFoundError(f"{path}: no latent file of {self.nbytes} bytes")
            mode = "r+" if existing else "w+"
            self._array: np.ndarray = np.memmap(path, dtype=self.dtype, mode=mode, shape=self.shape)
        else:
            self._array = np.zeros(self.shape, dtype=self.dtype)

    def read(self, index: Index) -> torch.Tensor:
        """A copy of the indexed region (a CPU tensor the caller may move and modify)."""
        return torch.from_numpy(np.array(self._array[index]))

    def write(self, index: Index, value: torch.Tensor) -> None:
        self._array[index] = value.detach().to("cpu", _torch_dtype(self.dtype)).numpy()

    def add(self, index: Index, value: torch.Tensor) -> None:
        self._array[index] += value.detach().to("cpu", _torch_dtype(self.dtype)).numpy()

    def zero(self) -> None:
        self._array[...] = 0

    def fill_flat(self, chunks: Any) -> None:
        """Write an iterable of 1-D tensors into the array in memory order (e.g. noise drawn
        chunk by chunk), without ever holding the whole array twice."""
        flat = self._array.reshape(-1)
        pos = 0
        for chunk in chunks:
            n = chunk.numel()
            flat[pos : pos + n] = chunk.to("cpu", _torch_dtype(self.dtype)).numpy()
            pos += n
        if pos != flat.size:
            raise ValueError(f"filled {pos} of {flat.size} values")

    @property
    def array(self) -> np.ndarray:
        """The underlying array (a np.memmap once spilled), for fills in a custom order."""
        return self._array

    def flush(self) -> None:
        if isinstance(self._array, np.memmap):
            self._array.flush()

    def delete(self) -> None:
        """Drop the data (and its file, if it spilled)."""
        self._array = np.zeros(0, dtype=self.dtype)
        if self.spilled and self.path is not None:
            self.path.unlink(missing_ok=True)


class LatentAppender:
    """Builds a `LatentStore` whose length along the first axis is not known in advance
    (latents of segments as they stream in): rows are kept in RAM until they pass
    `spill_bytes` (or from the start when `persistent`), then go to the file `path`."""

    def __init__(
        self,
        row_shape: Sequence[int],
        path: Path | None = None,
        *,
        spill_bytes: int = DEFAULT_SPILL_BYTES,
        persistent: bool = False,
    ) -> None:
        self.row_shape = tuple(int(s) for s in row_shape)
        self.path = path
        self.spill_bytes = spill_bytes
        self.rows = 0
        self._ram: list[np.ndarray] = []
        self._file: Any = None
        if persistent:
            self._spill()

    @property
    def nbytes(self) -> int:
        return self.rows * int(np.prod(self.row_shape)) * 4

    def append(self, rows: torch.Tensor) -> None:
        """Add (n, *row_shape) rows at the end."""
        arr = rows.detach().to("cpu", torch.float32).contiguous().numpy()
        if arr.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {arr.shape[1:]}, expected {self.row_shape}")
        self.rows += arr.shape[0]
        if self._file is None:
            self._ram.append(arr)
            if self.nbytes > self.spill_bytes:
                self._spill()
        else:
            self._file.write(arr.tobytes())

    def finish(self) -> LatentStore:
        """The rows so far as a store of shape (rows, *row_shape)."""
        shape = (self.rows, *self.row_shape)
        if self._file is None:
            store = LatentStore(shape, self.path, spill_bytes=1 << 62)
            if self._ram:
                store.array[...] = np.concatenate(self._ram)
            self._ram = []
            return store
        self._file.close()
        self._file = None
        return LatentStore(shape, self.path, existing=True)

    def _spill(self) -> None:
        if self.path is None:
            raise ValueError("an appender that spills to disk needs a file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in finish)
        for arr in self._ram:
            self._file.write(arr.tobytes())
        self._ram = []


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16}[dtype]


class SteppedLatents:
    """Two alternating `LatentStore`s plus an atomically replaced state file: the latent
    state after `step` finished steps survives a crash in the next one.

    `meta` (JSON-serialisable) identifies the run; a checkpoint written under other meta
    or another shape is ignored and started afresh."""

    STATE = "latent_steps.json"

    def __init__(
        self,
        directory: Path,
        shape: Sequence[int],
        meta: dict[str, Any],
        *,
        spill_bytes: int = DEFAULT_SPILL_BYTES,
        persistent: bool = False,
        resume: bool = False,
    ) -> None:
        self.directory = directory
        self.shape = tuple(int(s) for s in shape)
        self.meta = meta
        self.persistent = persistent
        self.step = 0
        self._cur = "a"
        state = self._read_state() if resume and persistent else None
        if state is not None:
            self.step, self._cur = int(state["step"]), state["current"]
        kwargs = dict(spill_bytes=spill_bytes, persistent=persistent)
        self._stores = {
            name: LatentStore(
                self.shape,
                directory / f"latents_{name}.f32",
                existing=state is not None and name == self._cur,
                **kwargs,
            )
            for name in ("a", "b")
        }

    @property
    def resumed(self) -> bool:
        """True when the state came from an earlier run's checkpoint."""
        return self.step > 0

    @property
    def spilled(self) -> bool:
        return self._stores["a"].spilled

    @property
    def nbytes(self) -> int:
        return 2 * self._stores["a"].nbytes

    @property
    def current(self) -> LatentStore:
        """The state after `step` finished steps."""
        return self._stores[self._cur]

    @property
    def scratch(self) -> LatentStore:
        """Where the next step writes (zeroed by `begin_step`)."""
        return self._stores["b" if self._cur == "a" else "a"]

    def begin_step(self) -> LatentStore:
        self.scratch.zero()
        return self.scratch

    def commit(self, step: int) -> None:
        """The scratch store now holds the state after `step` steps: flush it, then point the
        state file at it (atomically), then treat it as current."""
        nxt = "b" if self._cur == "a" else "a"
        self._stores[nxt].flush()
        if self.persistent:
            state = {"step": step, "current": nxt, "shape": list(self.shape), "meta": self.meta}
            tmp = self.directory / (self.STATE + ".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.directory / self.STATE)
        self.step, self._cur = step, nxt

    def delete(self) -> None:
        for store in self._stores.values():
            store.delete()
        (self.directory / self.STATE).unlink(missing_ok=True)

    def _read_state(self) -> dict[str, Any] | None:
        path = self.directory / self.STATE
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if state.get("shape") != list(self.shape) or state.get("meta") != self.meta:
            return None
        if state.get("current") not in ("a", "b"):
            return None
        file = self.directory / f"latents_{state['current']}.f32"
        nbytes = int(np.prod(self.shape)) * 4
        if not file.is_file() or file.stat().st_size != nbytes:
            return None
        return state
