"""``blobpi.mirror.core.requirements``: the one reader of pip's requirements-file shape."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.requirements import Option, read_lines

H = "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("six", [(1, "six", ())]),
        ("  six  # trailing comment", [(1, "six", ())]),
        ("# only\n\n   \n# comments", []),
        (
            f"attrs==23.2 \\\n    --hash=sha256:{H} \\\n    --hash sha256:{H}",
            [(1, "attrs==23.2", (("--hash", f"sha256:{H}"), ("--hash", f"sha256:{H}")))],
        ),
        (
            'tomli==2 ; python_version < "3.11" --hash=sha256:ab',
            [(1, 'tomli==2 ; python_version < "3.11"', (("--hash", "sha256:ab"),))],
        ),
        (
            "pkg @ https://h/p-1.whl#sha256=ab  # a URL's fragment is not a comment",
            [(1, "pkg @ https://h/p-1.whl#sha256=ab", ())],
        ),
        (
            "-r base.txt\n-c constraints.txt",
            [(1, "", (("-r", "base.txt"),)), (2, "", (("-c", "constraints.txt"),))],
        ),
        ("--index-url=https://x/simple", [(1, "", (("--index-url", "https://x/simple"),))]),
        ("a==1 --pre --hash=sha256:ab", [(1, "a==1", (("--pre", ""), ("--hash", "sha256:ab")))]),
        ("a==1 --hash=sha256:ab junk", [(1, "a==1", (("--hash", "sha256:ab"), ("", "junk")))]),
        ("a \\\n\n\nb", [(1, "a", ()), (4, "b", ())]),
        ("a \\\n", [(1, "a", ())]),
        ("x\n\ny \\\n  >=2", [(1, "x", ()), (3, "y >=2", ())]),
    ],
)
def test_read_lines__shape(
    text: str, expected: list[tuple[int, str, tuple[tuple[str, str], ...]]]
) -> None:
    lines = read_lines(text)
    assert [
        (r.number, r.requirement, tuple((o.name, o.value) for o in r.options)) for r in lines
    ] == expected


def test_read_lines__keeps_option_text_as_written_for_messages() -> None:
    (line,) = read_lines("a==1 --no-binary :all: --hash=md5:ab")
    assert line.options == (
        Option("--no-binary", ":all:", "--no-binary :all:"),
        Option("--hash", "md5:ab", "--hash=md5:ab"),
    )


def test_read_lines__whole_line_comments_go_with_the_line_above_until_a_blank() -> None:
    text = (
        "# header\nattrs==1 \\\n    --hash=sha256:ab\n    # via\n    #   -r a.in\n"
        "\n# next\nsix==1  # via x\n"
    )
    attrs, six = read_lines(text)
    assert attrs.comments == ("via", "-r a.in")
    assert six.comments == ("via x",)
    assert attrs.values("--hash") == ["sha256:ab"]
