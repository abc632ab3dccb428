"""Blob-URL mode against Azurite: the URLs ``blobpi azureml wheel-urls`` prints install with a
real pip (which checks ``#sha256=``), expired or tampered SAS tokens are refused by the
storage service, one bucket gives one URL, and bad input ends in one line.

Azurite signs and checks account-key SAS; the user delegation path needs HTTPS and Entra
sign-in, so its signed fields are checked in tests/unit/test_azureml_sas.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from packaging.utils import canonicalize_name

from blobpi.deploy.azure.sas import wheel_urls
from blobpi.deploy.azureml import environment_for, wheel_urls_for
from blobpi.deploy.core.requirements import parse_requirements
from blobpi.deploy.core.targets import Target
from blobpi.mirror.cli.main import main
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import open_store
from tests.support.dists import build_wheel
from tests.support.dockerbuild import run_dockerfile
from tests.support.processes import Azurite, client_env, make_venv, run

pytestmark = pytest.mark.azurite


@dataclasses.dataclass(frozen=True)
class Mirror:
    url: str
    environ: dict[str, str]
    sha256: dict[str, str]  # filename -> hex
    lock: Path  # a hashed lock of alpha and beta


@pytest.fixture(scope="module")
def mirror(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    tmp = tmp_path_factory.mktemp("azureml-mirror")
    wheels = [
        build_wheel(tmp, "alpha", "1.0", requires=["beta==2.0"]),
        build_wheel(tmp, "beta", "2.0"),
        build_wheel(tmp, "beta", "2.0", tag="py3-none-win_amd64"),
        build_wheel(tmp, "gamma", "1.0", tag="py3-none-win_amd64"),
    ]
    url = azurite.new_container_url()
    environ = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}

    async def _publish() -> None:
        store = open_store(url, azurite.connection_string)
        try:
            await store.ensure()
            for wheel in wheels:
                with wheel.open("rb") as f:
                    await publish(store, wheel.name, f, max_bytes=10**7)
        finally:
            await store.close()

    anyio.run(_publish)
    sha = {w.name: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}
    lock = tmp / "requirements.txt"
    lock.write_text(
        f"alpha==1.0 --hash=sha256:{sha['alpha-1.0-py3-none-any.whl']}\n"
        f"beta==2.0 --hash=sha256:{sha['beta-2.0-py3-none-any.whl']}"
        f" --hash=sha256:{sha['beta-2.0-py3-none-win_amd64.whl']}\n"
        'gamma==1.0 ; sys_platform == "win32"'
        f" --hash=sha256:{sha['gamma-1.0-py3-none-win_amd64.whl']}\n"
    )
    return Mirror(url, environ, sha, lock)


def _cli(
    capsys: pytest.CaptureFixture[str], environ: dict[str, str], *argv: str
) -> tuple[int, str, str]:
    code = main(["azureml", *argv], environ=environ)
    out, err = capsys.readouterr()
    return code, out, err


def _urls(capsys: pytest.CaptureFixture[str], mirror: Mirror, *extra: str) -> list[str]:
    code, out, err = _cli(
        capsys,
        mirror.environ,
        "wheel-urls",
        "-r",
        str(mirror.lock),
        "--storage",
        mirror.url,
        *extra,
    )
    assert code == 0, err
    return out.splitlines()


def _signed(mirror: Mirror, now: dt.datetime, lifetime: dt.timedelta) -> list[str]:
    async def _run() -> list[str]:
        key = mirror.environ["AZURE_STORAGE_CONNECTION_STRING"]
        store = open_store(mirror.url, key)
        try:
            reqs = parse_requirements(mirror.lock.read_text())
            return await wheel_urls(
                store, reqs, target=Target(), connection_string=key, lifetime=lifetime, now=now
            )
        finally:
            await store.close()

    return anyio.run(_run)


def _url(line: str) -> str:
    return line.split(" @ ", 1)[1].split("#", 1)[0]


def test_wheel_urls__lines_name_the_file_for_the_target(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _urls(capsys, mirror)
    assert [line.split(" @ ")[0] for line in lines] == ["alpha", "beta"]  # gamma: win32 only
    assert "/beta-2.0-py3-none-any.whl?" in lines[1]
    assert lines[1].endswith(f"#sha256={mirror.sha256['beta-2.0-py3-none-any.whl']}")
    assert all(_url(line).startswith(mirror.url + "/packages/") for line in lines)
    windows = _urls(capsys, mirror, "--platform", "win_amd64")
    assert "/beta-2.0-py3-none-win_amd64.whl?" in windows[1] and len(windows) == 3


@pytest.mark.slow
def test_wheel_urls__pip_installs_them_and_checks_the_sha256(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = _urls(capsys, mirror)
    (tmp_path / "urls.txt").write_text("\n".join(lines) + "\n")
    python = make_venv(tmp_path / "venv")
    install = [str(python), "-m", "pip", "install", "--no-index"]
    run([*install, "-r", str(tmp_path / "urls.txt")], env=client_env())
    check = run([str(python), "-c", "import alpha, beta; print(alpha.VERSION, beta.VERSION)"])
    assert check.stdout.split() == ["1.0", "2.0"]

    wrong = lines[0].rsplit("=", 1)[0] + "=" + "0" * 64  # a valid SAS, a wrong #sha256
    (tmp_path / "wrong.txt").write_text(wrong + "\n")
    failed = run(
        [*install, "--force-reinstall", "--no-deps", "-r", str(tmp_path / "wrong.txt")],
        env=client_env(),
        check=False,
    )
    assert failed.returncode != 0 and "hash" in failed.stderr.lower()


def test_wheel_urls__feed_environment_from_the_cli_in_every_mode(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(_urls(capsys, mirror)) + "\n")
    lines = urls.read_text().splitlines()
    env = ["environment", "-r", str(urls), "--name", "train"]  # no --index-url: URL lines

    code, _, err = _cli(capsys, {}, *env, "-o", str(tmp_path / "conda"))
    assert code == 0, err
    conda = yaml.safe_load((tmp_path / "conda" / "conda.yml").read_text())
    (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    assert pip == ["--no-index", *lines]

    code, _, err = _cli(capsys, {}, *env, "--build-context", "-o", str(tmp_path / "bc"))
    assert code == 0, err
    context = tmp_path / "bc" / "context"
    assert (context / "requirements.txt").read_text().splitlines() == ["--no-index", *lines]
    venv = make_venv(tmp_path / "image").parent.parent
    built = run_dockerfile(context, tmp_path / "root", venv)
    assert built.returncode == 0, built.stdout + built.stderr
    check = run([str(venv / "bin/python"), "-c", "import alpha, beta; print(beta.VERSION)"])
    assert check.stdout.strip() == "2.0"


def test_wheel_urls__same_bucket_same_urls(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    # --expiry is the old spelling of --expires: both still work, and mean the same
    assert _urls(capsys, mirror, "--expires", "8h") == _urls(capsys, mirror, "--expiry", "8h")
    (as_json,) = _urls(capsys, mirror, "--expires", "8h", "--json")  # one JSON line, same URLs
    assert json.loads(as_json)["requirements"] == _urls(capsys, mirror, "--expires", "8h")
    now, lifetime = dt.datetime.now(dt.UTC), dt.timedelta(hours=8)
    bucket_start = dt.datetime.fromisoformat(now.strftime("%Y-%m-%dT%H:00:00+00:00"))
    later = bucket_start + dt.timedelta(minutes=59)
    assert _signed(mirror, bucket_start, lifetime) == _signed(mirror, later, lifetime)
    assert _signed(mirror, bucket_start, lifetime) != _signed(
        mirror, later + dt.timedelta(minutes=1), lifetime
    )


def _status(url: str) -> tuple[int, bytes]:
    response = httpx.get(url, timeout=10)
    return response.status_code, response.content


def test_wheel_urls__expired_or_tampered_sas_is_refused(mirror: Mirror) -> None:
    now = dt.datetime.now(dt.UTC)
    good = _url(_signed(mirror, now, dt.timedelta(hours=1))[0])
    code, body = _status(good)
    assert code == 200
    assert hashlib.sha256(body).hexdigest() == mirror.sha256["alpha-1.0-py3-none-any.whl"]

    expired = _url(_signed(mirror, now - dt.timedelta(hours=3), dt.timedelta(hours=1))[0])
    assert _status(expired)[0] == 403
    later = (now + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H")
    sig = re.search(r"sig=([^&]+)", good)
    assert sig is not None
    flipped = ("B" if sig.group(1)[0] == "A" else "A") + sig.group(1)[1:]
    tampered = [
        good.replace("sp=r", "sp=rw"),
        re.sub(r"se=[^&]+", f"se={later}%3A00%3A00Z", good),
        good.replace("alpha-1.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl"),
        good.replace(sig.group(0), f"sig={flipped}"),
    ]
    for url in tampered:
        assert _status(url)[0] == 403, url
    assert _status(good.split("?", 1)[0])[0] in (403, 404)  # no SAS, no access


@pytest.mark.parametrize(
    ("lock", "extra", "message"),
    [
        ("alpha>=1.0\n", [], "requirements.txt line 1: 'alpha>=1.0' is not pinned"),
        ("delta==1.0\n", [], "'delta' (line 1) is not in the mirror"),
        ("alpha==9.9\n", [], "alpha 9.9 (line 1) is not in the mirror"),
        ("gamma==1.0\n", [], "no wheel of gamma 1.0 fits CPython 3.11 on manylinux_2_35_x86_64"),
        (f"alpha==1.0 --hash=sha256:{'0' * 64}\n", [], "which line 1 does not allow"),
        ("alpha==1.0\n", ["--expires", "30d"], "--expires '30d' is out of range"),
    ],
)
def test_wheel_urls__bad_input_is_one_line(
    mirror: Mirror,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    lock: str,
    extra: list[str],
    message: str,
) -> None:
    (tmp_path / "requirements.txt").write_text(lock)
    code, out, err = _cli(
        capsys,
        mirror.environ,
        "wheel-urls",
        "-r",
        str(tmp_path / "requirements.txt"),
        "--storage",
        mirror.url,
        *extra,
    )
    assert (code, out) == (1, "")
    assert message in err and err.count("\n") == 1 and err.startswith("blobpi: error: ")


def test_wheel_urls__a_directory_store_cannot_sign(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "requirements.txt").write_text("alpha==1.0\n")
    code, _, err = _cli(
        capsys,
        {},
        "wheel-urls",
        "-r",
        str(tmp_path / "requirements.txt"),
        "--storage",
        str(tmp_path / "data"),
    )
    assert code == 1 and "blob URLs need the mirror's container, not a directory" in err


def test_add_private_wheel__uploads_and_prints_a_downloadable_line(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path, "My_Private", "0.1")
    argv = ["add-private-wheel", str(wheel), "--storage", mirror.url]
    code, out, err = _cli(capsys, mirror.environ, *argv)
    assert code == 0, err
    (line,) = out.splitlines()
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert line.startswith("my-private @ ") and line.endswith(f"#sha256={sha}")
    code_, body = _status(_url(line))
    assert code_ == 200 and hashlib.sha256(body).hexdigest() == sha

    async def _page() -> list[str]:
        store = open_store(mirror.url, mirror.environ["AZURE_STORAGE_CONNECTION_STRING"])
        try:
            page = await read_project(store, canonicalize_name("my-private"))
            return [f.filename for f in page.files] if page else []
        finally:
            await store.close()

    assert anyio.run(_page) == [wheel.name]
    assert _cli(capsys, mirror.environ, *argv)[1] == out  # idempotent, same bucket, same line


@pytest.mark.parametrize(
    ("make", "storage", "message"),
    [
        (lambda d: build_wheel(d, "x", "1.0").with_suffix(".zip"), None, "is not a wheel file"),
        (lambda d: build_wheel(d, "x", "1.0"), "dir", "need the mirror's container"),
    ],
)
def test_add_private_wheel__bad_input_is_one_line(
    mirror: Mirror,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make: object,
    storage: str | None,
    message: str,
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    where = str(tmp_path / "data") if storage else mirror.url
    code, out, err = _cli(
        capsys, mirror.environ, "add-private-wheel", str(path), "--storage", where
    )
    assert (code, out) == (1, "") and message in err and err.count("\n") == 1
    assert not (tmp_path / "data").exists()


@pytest.mark.anyio
async def test_wheel_urls_for__notebook_api_builds_a_blob_environment(mirror: Mirror) -> None:
    lines = await wheel_urls_for(mirror.url, mirror.lock, expiry="1h", environ=mirror.environ)
    assert [line.split(" @ ")[0] for line in lines] == ["alpha", "beta"]
    env = environment_for(None, lines, name="blob")
    (pip,) = [d["pip"] for d in env.conda_file["dependencies"] if isinstance(d, dict)]
    assert pip == ["--no-index", *lines]


def test_wheel_urls__connection_string_of_another_account_is_one_line(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    other = mirror.environ["AZURE_STORAGE_CONNECTION_STRING"].replace(
        "AccountName=devstoreaccount1", "AccountName=otheraccount"
    )
    environ = {"AZURE_STORAGE_CONNECTION_STRING": other}
    code, out, err = _cli(
        capsys, environ, "wheel-urls", "-r", str(mirror.lock), "--storage", mirror.url
    )
    assert (code, out) == (1, "") and "is for account 'otheraccount'" in err
