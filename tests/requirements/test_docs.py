from io import StringIO

from django.conf import settings
from django.core.management import call_command

from requirements.lispish import BLOCKS


def test_the_committed_block_reference_matches_the_registry():
    out = StringIO()
    call_command("lispish_docs", "--check", stdout=out)
    assert "up to date" in out.getvalue()


def test_the_reference_names_every_block():
    text = (settings.BASE_DIR / "docs" / "lispish-blocks.md").read_text()
    assert all(f"`{name}`" in text for name in BLOCKS)
