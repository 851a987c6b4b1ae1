"""Spec markdown to safe HTML: tables of hostile input and of what must survive."""

from html.parser import HTMLParser

import pytest

from challenges.markdown import ALLOWED_TAGS, render_markdown

DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")


class Audit(HTMLParser):
    """Everything in rendered HTML that could run script or leave the allow-list."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.problems.append(f"attribute {name} on <{tag}>")
            # The parser has decoded entities already, as a browser would.
            compact = "".join((value or "").split()).lower()
            if compact.startswith(DANGEROUS_SCHEMES):
                self.problems.append(f"{name}={value!r} on <{tag}>")


def problems(html: str) -> list[str]:
    audit = Audit()
    audit.feed(html)
    audit.close()
    return audit.problems


SCRIPTS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src='https://evil.example'></iframe>",
    "<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'></iframe>",
    "<object data='https://evil.example/x.swf'></object>",
    "<embed src='https://evil.example/x.swf'>",
    "<style>body { background: url(https://evil.example) }</style>",
    "<link rel=stylesheet href='https://evil.example/x.css'>",
    "<meta http-equiv='refresh' content='0;url=https://evil.example'>",
    "<base href='https://evil.example/'>",
    "<form action='https://evil.example'><input name=p><button>go</button></form>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><script>alert(1)</script></template>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]

HANDLERS = [
    "<img src=x onerror=alert(1)>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    '<img src="x.png" ONERROR="alert(1)">',
    "<svg onload=alert(1)>",
    "<body onload=alert(1)>",
    "<div onclick='alert(1)'>click</div>",
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "<a href='https://ok.example' onmouseover='alert(1)'>hover</a>",
    "<code class='x' onfocus='alert(1)' tabindex=1>x</code>",
    "<p style='background:url(javascript:alert(1))'>styled</p>",
    "<td background='javascript:alert(1)'>cell</td>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
]

URLS = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click]( javascript:alert(1) )",
    "[click](javascript&#58;alert(1))",
    "![pic](javascript:alert(1))",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='  javascript:alert(1)'>x</a>",
    "<a href='jav&#x09;ascript:alert(1)'>x</a>",
    "<a href='&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;"
    "alert(1)'>x</a>",
    "<a href='&#x6A;avascript:alert(1)'>x</a>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>x</a>",
    "<img src='data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+'>",
    "[x](data:text/html,<script>alert(1)</script>)",
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    "<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>",
]


@pytest.mark.parametrize("text", SCRIPTS + HANDLERS + URLS)
def test_it_renders_nothing_that_could_run(text):
    html = str(render_markdown(text))

    assert problems(html) == []
    assert "<script" not in html.lower()


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("**bold** and _em_", "<p><strong>bold</strong> and <em>em</em></p>"),
        (
            "`<script>alert(1)</script>`",
            "<p><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></p>",
        ),
        (
            "```python\nprint('<b>')\n```",
            "<pre><code class=\"language-python\">print('&lt;b&gt;')\n</code></pre>",
        ),
        (
            '[docs](https://example.org/docs "Docs")',
            '<p><a href="https://example.org/docs" title="Docs" '
            'rel="noopener noreferrer nofollow">docs</a></p>',
        ),
        (
            "[mail](mailto:orga@example.org)",
            '<p><a href="mailto:orga@example.org" rel="noopener noreferrer nofollow">'
            "mail</a></p>",
        ),
        (
            "![diagram](https://example.org/d.png)",
            '<p><img alt="diagram" src="https://example.org/d.png"></p>',
        ),
        (
            "<details><summary>Spoiler</summary>It was DNS.</details>",
            "<details><summary>Spoiler</summary>It was DNS.</details>",
        ),
        ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
        ("x <kbd>Ctrl</kbd> H<sub>2</sub>O", "<p>x <kbd>Ctrl</kbd> H<sub>2</sub>O</p>"),
    ],
)
def test_it_keeps_ordinary_markdown(text, html):
    assert str(render_markdown(text)) == html


def test_it_keeps_tables():
    html = str(render_markdown("| port | service |\n|---|---|\n| 22 | ssh |"))

    assert "<table>" in html
    assert "<th>port</th>" in html
    assert "<td>ssh</td>" in html


def test_it_keeps_table_column_alignment():
    html = str(render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |"))

    assert '<th align="left">a</th>' in html
    assert '<td align="right">2</td>' in html


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("<script>alert('x')</script>Hello", "Hello"),
        ("<img src=x onerror=alert(1)> picture", "picture"),
        ("[click](javascript:alert(1))", "click"),
        ("<iframe src='https://evil.example'></iframe>after", "after"),
    ],
)
def test_it_keeps_the_harmless_text_around_a_payload(text, kept):
    assert kept in str(render_markdown(text))
