"""PEP 751 locks: what the sync accepts (index files by URL with a sha256), what it refuses
with one line, the writer's output read back by ``tomllib`` and the reader, and URL rewrites
that touch nothing else; and the requirements-file rewrite."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.core.errors import ConfigError
from blobpi.sync.core.pylock import (
    LockedFile,
    LockedPackage,
    entries_of,
    parse_pylock,
    render_pylock,
    rewrite_urls,
)
from blobpi.sync.core.rewrite import rewrite_requirements

A, B = "a" * 64, "b" * 64
UP = "https://up.example/packages/aa/bb/" + "c" * 60
GOOD = f"""lock-version = "1.0"
created-by = "uv"
[[packages]]
name = "Demo_Pkg"
version = "1.0"
marker = "python_version >= '3.11'"
index = "https://up.example/simple"
sdist = {{ url = "{UP}/demo_pkg-1.0.tar.gz", hashes = {{ sha256 = "{A}" }} }}
wheels = [{{ url = "{UP}/demo_pkg-1.0-py3-none-any.whl", hashes = {{ sha256 = "{B}" }} }}]
"""


def test_parse_pylock__index_files_become_hashed_pins() -> None:
    (package,) = parse_pylock(GOOD)
    assert package.name == "demo-pkg" and package.version == "1.0"
    assert [f.filename for f in package.files] == [
        "demo_pkg-1.0.tar.gz",
        "demo_pkg-1.0-py3-none-any.whl",
    ]
    (entry,) = entries_of([package])
    assert entry.pinned is not None and str(entry.pinned) == "1.0"
    assert entry.hashes == {A, B} and entry.marker == "python_version >= '3.11'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('lock-version = "2.0"\ncreated-by = "x"\n', "lock-version '2.0'"),
        ('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n', "lists no packages"),
        ("not toml [", "is not valid TOML"),
        (GOOD.replace(f'sha256 = "{B}"', 'md5 = "00"'), "has no sha256"),
        (GOOD.replace('\nversion = "1.0"', '\nversion = "one"'), "no valid version"),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\nversion = "1"\n'
            '[packages.vcs]\ntype = "git"\nurl = "https://g/a.git"\ncommit-id = "abc"\n',
            "is a vcs source",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\nversion = "1"\n'
            f'[[packages.wheels]]\npath = "a-1-py3-none-any.whl"\nhashes = {{sha256 = "{A}"}}\n',
            "has a path",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\nversion = "1"\n',
            "lists no sdist or wheels",
        ),
    ],
)
def test_parse_pylock__refusals_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_pylock(text)
    assert "\n" not in str(e.value)


def test_render_pylock__reads_back_the_same_packages() -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    package = LockedPackage(
        canonicalize_name("demo"),
        "1.0",
        (
            LockedFile("demo-1.0-py3-none-any.whl", "https://m/p/demo-1.0-py3-none-any.whl", B),
            LockedFile("demo-1.0.tar.gz", 'https://m/p/"odd"/demo-1.0.tar.gz', A, 10, when),
        ),
        marker='python_version == "3.12"',
        index="https://m/simple/",
    )
    text = render_pylock([package], header=["made by a test"])
    assert text.startswith("# made by a test\n")
    raw = tomllib.loads(text)
    assert raw["packages"][0]["sdist"]["upload-time"] == when
    assert raw["packages"][0]["sdist"]["url"] == 'https://m/p/"odd"/demo-1.0.tar.gz'
    (back,) = parse_pylock(text)
    assert back.marker == package.marker and back.index == package.index
    assert sorted(back.files, key=lambda f: f.filename) == sorted(
        package.files, key=lambda f: f.filename
    )


def test_rewrite_urls__swaps_only_the_named_strings() -> None:
    old = f"{UP}/demo_pkg-1.0.tar.gz"
    text = "# keep me\n" + GOOD + '[tool.x]\nnote = "stays"\n'
    out = rewrite_urls(text, {old: "https://m/demo_pkg-1.0.tar.gz"})
    assert out.replace("https://m/demo_pkg-1.0.tar.gz", old) == text
    with pytest.raises(ConfigError, match="cannot find"):
        rewrite_urls(text, {"https://elsewhere/x.whl": "https://m/x.whl"})


def test_rewrite_requirements__the_mirror_is_the_only_source() -> None:
    text = (
        "# header\n-i https://up/simple\n--extra-index-url=https://other/simple\n"
        "--find-links /wheels\n--trusted-host up\n"
        f"a==1 \\\n    --hash=sha256:{A}\nb @ https://up/b-1-py3-none-any.whl#sha256={B}\n"
    )
    out = rewrite_requirements(
        text, "https://m/simple/", {f"https://up/b-1-py3-none-any.whl#sha256={B}": "https://m/b"}
    )
    assert out.splitlines() == [
        "--index-url https://m/simple/",
        "# header",
        "a==1 \\",
        f"    --hash=sha256:{A}",
        "b @ https://m/b",
    ]


@pytest.mark.parametrize("url", ["pkgs.example.org", "ftp://pkgs.example.org/simple/"])
def test_mirror_url__a_bad_index_url_is_a_whole_message(url: str) -> None:
    from blobpi.sync.io.lockurls import mirror_url

    with pytest.raises(ConfigError) as raised:
        mirror_url(url, "demo", "packages/aa/demo-1.0-py3-none-any.whl")
    assert str(raised.value) == (
        f"--index-url {url!r} is not an http(s) URL: give the mirror's simple index, "
        "e.g. --index-url https://pkgs.example.org/simple/"
    )
