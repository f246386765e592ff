"""The doc runner's reading of Markdown: which blocks and which commands it finds."""

from __future__ import annotations

import pytest

from tests.docs.blocks import Command, FenceError, fences, narrative_commands, shell_commands

DOC = """\
# Title

```python
print("one")
```
Then `curl http://127.0.0.1:8080/a` and `curl http://example.org/b`.

```sh
$ curl -s 'http://127.0.0.1:8080/c'
7
$ curl -s http://127.0.0.1:8080/d
{"a": 1, ...}
```
```sh
# a comment, not a heading
curl http://127.0.0.1:8080/e
REQUEST_METHOD=GET cgi-fcgi -bind -connect 127.0.0.1:9000
```

* a list item:

  ```python
  x = 1
      y = 2
  ```

`curl http://127.0.0.1:8080/after-second-block`

## Next

`curl http://127.0.0.1:8080/not-in-the-narrative`

````markdown
```python
not a block of its own
```
````
"""


def test_fences_with_lines_languages_and_indentation() -> None:
    found = fences(DOC)
    assert [(f.lang, f.line) for f in found] == [
        ("python", 3),
        ("sh", 8),
        ("sh", 14),
        ("python", 22),
        ("markdown", 33),
    ]
    assert found[0].text == 'print("one")\n'
    assert found[3].text == "x = 1\n    y = 2\n"  # the list item's indentation only
    assert found[4].text == "```python\nnot a block of its own\n```\n"


def test_an_unclosed_fence_is_an_error_naming_its_line() -> None:
    with pytest.raises(FenceError, match=r"doc.md:2:"):
        fences("text\n```python\nprint(1)\n", "doc.md")


def test_the_narrative_runs_to_the_next_python_block() -> None:
    found = fences(DOC)
    assert narrative_commands(DOC, found[0], found) == [
        Command("curl http://127.0.0.1:8080/a"),
        Command("curl -s 'http://127.0.0.1:8080/c'", "7"),
        Command("curl -s http://127.0.0.1:8080/d"),  # abridged output: not compared
        Command("curl http://127.0.0.1:8080/e"),
        Command("REQUEST_METHOD=GET cgi-fcgi -bind -connect 127.0.0.1:9000"),
    ]


def test_the_narrative_stops_at_a_heading() -> None:
    found = fences(DOC)
    assert narrative_commands(DOC, found[3], found) == [
        Command("curl http://127.0.0.1:8080/after-second-block")
    ]


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ("$ echo hi\nhi\n", []),
        (
            "$ printf 'a\\n' |\n  curl --data-binary @- http://h:8080/m\n[1]\n",
            [Command("printf 'a\\n' |\n  curl --data-binary @- http://h:8080/m", "[1]")],
        ),
        (
            "curl -s \\\n  http://h:8080/x\n",
            [Command("curl -s \n  http://h:8080/x")],
        ),
        ("$ curl http://h:8080/x\n", [Command("curl http://h:8080/x")]),
        ("$ curl http://h:8080/x\n…\n", [Command("curl http://h:8080/x")]),
    ],
)
def test_shell_commands(text: str, commands: list[Command]) -> None:
    assert shell_commands(text) == commands
