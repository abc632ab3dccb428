"""The peers, each installed from the package index into its own venv under bench/out/peers/
(never committed), and nginx from Debian over the store's pre-rendered tree.

Each function starts one server on the corpus and yields it (``load.serving``): pypiserver
2.x (waitress, ``cached-dir``) over the flat directory, simple-repository-server over a
directory per project, proxpi (gunicorn, one worker) caching the nginx tree, as a proxy is
deployed, and devpi-server (waitress) with a mirror index over the same nginx tree, warmed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

from bench.corpus import PROJECTS, Corpus
from bench.load import SERVER_CPU, Served, free_port, serving

__all__ = ["PEERS", "nginx", "peer_python"]

_PACKAGES = {
    "pypiserver": ["pypiserver[cache]>=2.4", "waitress"],
    "simple-repository-server": ["simple-repository-server"],
    "proxpi": ["proxpi", "gunicorn"],
    "devpi-server": ["devpi-server"],
}
BIN = Path(sys.executable).parent

# Negotiates as blobpi does, from the same pre-rendered files: the static-file limit.
_NGINX_CONF = """
worker_processes {workers};
pid {out}/nginx.pid;
error_log {out}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    gzip_static on;
    default_type application/octet-stream;
    map $http_accept $page {{
        ~*application/vnd\\.pypi\\.simple\\.v1\\+json index.v1_json;
        default index.v1_html;
    }}
    client_body_temp_path {out}/nginx-tmp;
    proxy_temp_path {out}/nginx-tmp;
    fastcgi_temp_path {out}/nginx-tmp;
    uwsgi_temp_path {out}/nginx-tmp;
    scgi_temp_path {out}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /health {{ return 200 "ok"; }}
        types {{ application/vnd.pypi.simple.v1+json v1_json; text/html v1_html; }}
        charset utf-8;
        add_header Vary "Accept, Accept-Encoding";
        location = /simple/ {{ try_files /simple/$page =404; }}
        # a named capture: evaluating $page (a regex map) resets $1
        location ~ ^/simple/(?<project>[^/]+)/?$ {{ try_files /simple/$project/$page =404; }}
    }}
}}
"""


def peer_python(name: str, out: Path) -> Path:
    venv = out / "peers" / name
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run(
            [str(BIN / "uv"), "venv", "-q", "--clear", "--python", sys.executable, str(venv)],
            check=True,
        )
        subprocess.run(
            [str(BIN / "uv"), "pip", "install", "-q", "--python", str(python), *_PACKAGES[name]],
            check=True,
        )
        (venv / ".installed").write_text("")
    return python


@contextmanager
def nginx(corpus: Corpus, out: Path, workers: int = 1, cpus: str = SERVER_CPU) -> Iterator[Served]:
    port = free_port()
    (out / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    conf = out / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(out=out, port=port, root=corpus.store_dir, workers=workers))
    args = ["nginx", "-c", str(conf), "-g", "daemon off;"]
    with serving("nginx", args, port, "/health", cpus=cpus) as s:
        yield s


@contextmanager
def _pypiserver(corpus: Corpus, python: Path) -> Iterator[Served]:
    port = free_port()
    args = [str(python.parent / "pypi-server"), "run", "-p", str(port), "-i", "127.0.0.1"]
    args += ["-a", ".", "-P", ".", "--server", "auto", "--backend", "cached-dir"]
    with serving("pypiserver", [*args, str(corpus.flat_dir)], port, "/simple/") as s:
        yield s


def _per_project(corpus: Corpus) -> Path:
    tree = corpus.root / "per-project"
    if not tree.exists():
        for name in PROJECTS:
            (tree / name).mkdir(parents=True)
        for file in corpus.flat_dir.iterdir():
            project = file.name.split("-", 1)[0]
            os.link(file, tree / project / file.name)
    return tree


@contextmanager
def _simple_repository_server(corpus: Corpus, python: Path) -> Iterator[Served]:
    port = free_port()
    exe = str(python.parent / "simple-repository-server")
    args = [exe, "--host", "127.0.0.1", "--port", str(port), str(_per_project(corpus))]
    with serving("simple-repository-server", args, port, "/simple/") as s:
        yield s


@contextmanager
def _proxpi(corpus: Corpus, python: Path) -> Iterator[Served]:
    out = corpus.root.parent
    with nginx(corpus, out) as upstream:
        port = free_port()
        args = [str(python.parent / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}"]
        env = {
            "PROXPI_INDEX_URL": f"{upstream.url}/simple/",
            "PROXPI_CACHE_DIR": str(out / "proxpi"),
        }
        app = [*args, "proxpi.server:app"]
        with serving("proxpi", app, port, "/index/", env, prefix="/index/") as s:
            yield s


# A loopback-only throwaway server: the password only lets the bench create its index.
_DEVPI_ROOT = ("root", "bench")
_DEVPI_INDEX = "/root/bench"
_QUIET = {"version": 1, "incremental": True, "root": {"level": "WARNING"}}


@contextmanager
def _devpi_server(corpus: Corpus, python: Path) -> Iterator[Served]:
    """devpi-server over a ``mirror`` index whose upstream is the nginx tree, as proxpi is.

    Why a mirror: devpi loads it itself from the same pre-rendered pages (one upstream fetch
    per project, then served from its own database and file store until
    ``mirror_cache_expiry``, 1,800 s by default: longer than its rows take), so it serves the
    same projects, files and hashes. A ``stage`` index would need the 45,000 files uploaded one
    request each, or written as an export in devpi's internal dump format for
    ``devpi-import``. The mirror is warmed before measuring (the root, every page, the
    16 MiB file), so no row times devpi's first fetch from upstream.
    """
    out = corpus.root.parent
    server_dir = out / "devpi"
    bin_dir = python.parent
    with nginx(corpus, out) as upstream:
        # a fresh server dir each run: the mirror's upstream port changes with nginx's
        shutil.rmtree(server_dir, ignore_errors=True)
        init = [str(bin_dir / "devpi-init"), "--serverdir", str(server_dir), "--no-root-pypi"]
        subprocess.run([*init, "--root-passwd", _DEVPI_ROOT[1]], check=True, capture_output=True)
        # devpi logs every request at INFO; the other peers and blobpi here log none
        quiet = out / "devpi-logging.json"
        quiet.write_text(json.dumps(_QUIET))
        port = free_port()
        args = [str(bin_dir / "devpi-server"), "--serverdir", str(server_dir)]
        args += ["--host", "127.0.0.1", "--port", str(port), "--logger-cfg", str(quiet)]
        prefix = f"{_DEVPI_INDEX}/+simple/"
        with serving("devpi-server", args, port, "/+api", prefix=prefix) as served:
            index = {"type": "mirror", "mirror_url": f"{upstream.url}/simple/"}
            made = httpx.put(served.url + _DEVPI_INDEX, json=index, auth=_DEVPI_ROOT, timeout=30)
            made.raise_for_status()
            _warm(served, prefix)
            yield served


def _warm(served: Served, prefix: str) -> None:
    """Fetch the root and every project page through the mirror, then the files the small
    page links (the 16 MiB wheel and the newest wheel are real), so devpi holds them all
    before any row."""
    with httpx.Client(base_url=served.url, timeout=600) as client:
        client.get(prefix).raise_for_status()
        for name in PROJECTS:
            client.get(f"{prefix}{name}/").raise_for_status()
        small = client.get(f"{prefix}small/", headers={"Accept": "text/html"})
        fetched = 0
        for href in re.findall(r'href="([^"#]+)', small.text):
            url = httpx.URL(f"{served.url}{prefix}small/").join(href)
            # only those two are in the tree; the others are never fetched by any row
            fetched += client.get(str(url)).status_code == 200
    if fetched != 2:
        raise RuntimeError(f"bench: devpi-server fetched {fetched} files of small, not 2")


PEERS: dict[str, Callable[[Corpus, Path], AbstractContextManager[Served]]] = {
    "pypiserver": _pypiserver,
    "simple-repository-server": _simple_repository_server,
    "proxpi": _proxpi,
    "devpi-server": _devpi_server,
}
