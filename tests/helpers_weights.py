"""A fake Hugging Face Hub on 127.0.0.1 for download tests, and small registry helpers.

It answers the routes huggingface_hub 2.x uses for `snapshot_download`: repo info
(`/api/models/{repo}/revision/{rev}`), the tree listing (`/api/models/{repo}/tree/{rev}`) and
file HEAD/GET (`/{repo}/resolve/{rev}/{file}`) with X-Repo-Commit, ETag/X-Linked-Etag,
Content-Length and Range. Faults are injected per repo (404, gated, 401) or per file (a GET that
stops half-way, or fails with HTTP 500). Every request is recorded. The serving loop is bounded
in requests and in time, and binds only 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

H = BaseHTTPRequestHandler
MAX_REQUESTS = 400
MAX_SECONDS = 60.0


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeRepo:
    commits: dict[str, dict[str, bytes]]  # commit sha -> {path: content}
    refs: dict[str, str]  # branch -> commit
    #: None | "gated" | "401" | "404" | "gated-files" (info is public, files need accepted terms)
    status: str | None = None


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    auth: str | None = None


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    #: file path -> bytes to send before dropping the connection, once.
    cut_once: dict[str, int] = field(default_factory=dict)
    #: file paths whose GET answers HTTP 500 (until removed).
    broken: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def add_repo(self, repo_id: str, files: dict[str, bytes], commit: str | None = None) -> str:
        """Add a repo (or a new commit of it, which `main` then points to); returns the sha."""
        seed = repo_id.encode() + b"".join(k.encode() + v for k, v in sorted(files.items()))
        sha = commit or hashlib.sha1(seed).hexdigest()
        if repo_id in self.repos:
            self.repos[repo_id].commits[sha] = files
            self.repos[repo_id].refs["main"] = sha
        else:
            self.repos[repo_id] = FakeRepo({sha: files}, {"main": sha})
        return sha

    def file_gets(self, name: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/" + name)]

    # ------------------------------------------------------------ serving

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: simple, bounded
            timeout = 10

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
                hub._handle(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.timeout = 0.1
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        handled = 0
        while not self._stop.is_set() and handled < MAX_REQUESTS and time.monotonic() < deadline:
            before = len(self.requests)
            self._server.handle_request()
            handled += len(self.requests) > before

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.server_close()

    # ------------------------------------------------------------ routes

    def _handle(self, h: H, head: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        headers = h.headers
        self.requests.append(
            Request(h.command, path, headers.get("Range"), headers.get("Authorization"))
        )
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/(.+)", path)
        if m:
            return self._info(h, m.group(1), m.group(2))
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path)
        if m:
            return self._tree(h, m.group(1), m.group(2))
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._file(h, m.group(1), m.group(2), m.group(3), head)
        return self._error(h, 404, None)

    def _error(self, h: H, code: int, error_code: str | None, msg: str = "") -> None:
        body = json.dumps({"error": msg or "error"}).encode()
        h.send_response(code)
        if error_code:
            h.send_header("X-Error-Code", error_code)
        if msg:
            h.send_header("X-Error-Message", msg)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _lookup(self, h: H, repo_id: str, rev: str, file: bool = False) -> tuple[str, dict] | None:
        repo = self.repos.get(repo_id)
        if repo is None or repo.status == "404":
            self._error(h, 404, "RepoNotFound", "Repository not found")
            return None
        if repo.status == "gated" or (file and repo.status == "gated-files"):
            self._error(h, 403, "GatedRepo", "Access to this model is restricted")
            return None
        if repo.status == "401":
            self._error(h, 401, None, "Invalid credentials in Authorization header")
            return None
        sha = repo.refs.get(rev, rev)
        if sha not in repo.commits:
            self._error(h, 404, "RevisionNotFound", "Invalid rev id")
            return None
        return sha, repo.commits[sha]

    def _send_json(self, h: H, data: object, extra: dict[str, str]) -> None:
        body = json.dumps(data).encode()
        h.send_response(200)
        for k, v in extra.items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _info(self, h: H, repo_id: str, rev: str) -> None:
        found = self._lookup(h, repo_id, rev)
        if found:
            sha, files = found
            siblings = [{"rfilename": p} for p in files]
            self._send_json(h, {"id": repo_id, "sha": sha, "siblings": siblings}, {})

    def _tree(self, h: H, repo_id: str, rev: str) -> None:
        found = self._lookup(h, repo_id, rev)
        if found:
            _, files = found
            listing = [
                {
                    "type": "file",
                    "path": p,
                    "size": len(data),
                    "oid": git_oid(data),
                    "lfs": {"oid": sha256(data), "size": len(data), "pointerSize": 130},
                }
                for p, data in files.items()
            ]
            self._send_json(h, listing, {})

    def _file(self, h: H, repo_id: str, rev: str, name: str, head: bool) -> None:
        found = self._lookup(h, repo_id, rev, file=True)
        if not found:
            return
        sha, files = found
        if name not in files:
            h.send_response(404)
            h.send_header("X-Error-Code", "EntryNotFound")
            h.send_header("X-Repo-Commit", sha)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = files[name]
        if not head and name in self.broken:
            return self._error(h, 500, None, "Internal Error")
        start = 0
        rng = h.headers.get("Range")
        if rng and not head:
            m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
            start = int(m.group(1)) if m else 0
        body = data[start:]
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", sha)
        h.send_header("ETag", f'"{git_oid(data)}"')
        h.send_header("X-Linked-Etag", f'"{sha256(data)}"')
        h.send_header("X-Linked-Size", str(len(data)))
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(body)))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if head:
            return
        cut = self.cut_once.pop(name, None)
        if cut is not None:
            h.wfile.write(body[:cut])  # then the connection closes: a truncated transfer
            h.wfile.flush()
            return
        h.wfile.write(body)


def write_registry(path: Path, entries: dict[str, dict]) -> Path:
    """A test-only models.toml (select it with VSRUP_MODELS_TOML)."""
    lines: list[str] = []
    for model_id, fields in entries.items():
        lines.append(f'[models."{model_id}"]')
        for key, value in fields.items():
            lines.append(f"{key} = {_toml(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


# ---------------------------------------------------------------- a toy converter for imports

#: The "official" layout of the toy checkpoint: prefixed keys, as DiffSynth-style trainers save.
TOY_PREFIX = "pipe.dit."
TOY_SHAPES = {"blocks.0.attn.q.weight": (4, 4), "blocks.0.attn.q.bias": (4,), "head.weight": (2, 4)}


def toy_checkpoint(path: Path, seed: int = 0) -> dict:
    """Write a synthetic official-layout checkpoint (a torch.save pickle); return its tensors."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    state = {TOY_PREFIX + k: torch.randn(*shape, generator=gen) for k, shape in TOY_SHAPES.items()}
    torch.save(state, path)
    return state


def toy_convert(src: Path, dst_dir: Path) -> Path:
    """The converter contract: official file in, our safetensors layout out (prefix dropped)."""
    from vsrup.hub.safe_load import check_keys, load_state_dict, save_state_dict

    state = load_state_dict(src)
    renamed = {k.removeprefix(TOY_PREFIX): v for k, v in state.items()}
    check_keys(renamed, TOY_SHAPES, what="toy checkpoint", path=src)
    return save_state_dict(renamed, dst_dir / "model.safetensors")
