import pytest

from .catalog_factory import Catalog


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "catalog")
