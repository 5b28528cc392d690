"""`vsr models download` against a loopback HTTP server: verification, atomicity, resume, offline."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from vsr.errors import ModelError
from vsr.models import registry, zoo

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """Serves PAYLOAD at /file.pth with Range support; ``cut_first`` bytes then drops the first request."""

    def __init__(self) -> None:
        self.requests: list[str | None] = []
        self.cut_first: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = PAYLOAD[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_first is not None and len(server.requests) == 1:
                    self.wfile.write(body[: server.cut_first])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.pth"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def entry(monkeypatch, tmp_path):
    """A published entry (with a full sha256) and an empty cache."""
    monkeypatch.setenv("VSR_CACHE", str(tmp_path / "cache"))
    fake = registry.ModelEntry(name="tiny-x2", arch="edsr", scale=2, filename="tiny_x2.pth",
                               family="tiny", urls=("http://127.0.0.1:9/unused",), sha256=DIGEST)
    monkeypatch.setattr(registry, "PUBLISHED", registry.PUBLISHED + (fake,))
    return fake


def _cache_files(tmp_path):
    root = tmp_path / "cache" / "models"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("VSR_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert registry.cache_dir() == tmp_path / "xdg" / "vsr"
    monkeypatch.setenv("VSR_CACHE", str(tmp_path / "mine"))
    assert registry.models_dir() == tmp_path / "mine" / "models"


def test_good_hash_then_offline(server, entry, tmp_path):
    path = zoo.download("tiny-x2", url=server.url)
    assert path.read_bytes() == PAYLOAD
    assert _cache_files(tmp_path) == ["tiny_x2.pth", "tiny_x2.pth.sha256"]
    assert registry.cached_scales("tiny") == {2: "tiny-x2"} and registry.cached_scales("TINY-X2") == {2: "tiny-x2"}
    assert registry.family_scales("tiny") == {2: "tiny-x2"}
    server.close()  # offline from now on
    assert zoo.download("tiny-x2") == path
    assert len(server.requests) == 1


def test_wrong_hash_refused_and_nothing_kept(server, entry, tmp_path):
    with pytest.raises(ModelError, match="sha256 mismatch"):
        zoo.download("tiny-x2", url=server.url, sha256="0" * 64)
    assert _cache_files(tmp_path) == []
    assert registry.cached_scales("tiny") == {}


def test_published_prefix_is_verified(server, entry, monkeypatch, tmp_path):
    prefixed = registry.ModelEntry(name="pref-x2", arch="edsr", scale=2, filename="pref-x2.pth", sha256=DIGEST[:8])
    bad = registry.ModelEntry(name="bad-x2", arch="edsr", scale=2, filename="bad-x2.pth", sha256="deadbeef")
    monkeypatch.setattr(registry, "PUBLISHED", registry.PUBLISHED + (prefixed, bad))
    assert zoo.download("pref-x2", url=server.url).is_file()
    with pytest.raises(ModelError, match="expected deadbeef"):
        zoo.download("bad-x2", url=server.url)
    assert "bad-x2.pth" not in _cache_files(tmp_path)


def test_interrupted_download_resumes_with_range(server, entry, tmp_path):
    server.cut_first = 100_000
    path = zoo.download("tiny-x2", url=server.url, retries=2)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[0] is None
    assert server.requests[1] == "bytes=100000-"


def test_no_published_hash_needs_a_decision(server, monkeypatch, tmp_path):
    monkeypatch.setenv("VSR_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="no published sha256"):
        zoo.download("RealESRGAN_x4plus", url=server.url)
    assert _cache_files(tmp_path) == []
    path = zoo.download("RealESRGAN_x4plus", url=server.url, sha256=DIGEST.upper())
    assert path.name == "RealESRGAN_x4plus.pth"
    assert registry.cached_scales("RealESRGAN_plus") == {4: "RealESRGAN_x4plus"}


def test_unreachable_server_is_a_model_error(entry):
    with pytest.raises(ModelError, match="could not download"):
        zoo.download("tiny-x2", url="http://127.0.0.1:9/none.pth", retries=0, timeout=2)


def test_cli_download_and_list(server, entry, tmp_path):
    from vsr.cli import main

    runner = CliRunner()
    bad = runner.invoke(main, ["models", "download", "tiny-x2", "--url", server.url, "--sha256", "ab" * 32])
    assert bad.exit_code == 1 and "sha256 mismatch" in bad.output
    ok = runner.invoke(main, ["models", "download", "tiny-x2", "--url", server.url, "-q"])
    assert ok.exit_code == 0, ok.output
    assert "tiny_x2.pth" in ok.output and DIGEST in ok.output
    listing = runner.invoke(main, ["models"])
    assert listing.exit_code == 0
    for word in ("bicubic", "lanczos", "RealESRGAN_x4plus", "snu-edsr-baseline-x2", "realesr-animevideov3"):
        assert word in listing.output
    assert "cached" in next(line for line in listing.output.splitlines() if "tiny-x2" in line)
    unknown = runner.invoke(main, ["models", "download", "nope"])
    assert unknown.exit_code == 1 and "no published model" in unknown.output
