import pytest_hotmess


def test_package_imports() -> None:
    assert pytest_hotmess.__version__
