"""The examples in the package's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import datapredict


def _modules_with_examples() -> list[str]:
    finder = doctest.DocTestFinder()
    names = [datapredict.__name__] + [
        info.name for info in pkgutil.walk_packages(datapredict.__path__, prefix="datapredict.")
    ]
    return [
        name
        for name in names
        if any(test.examples for test in finder.find(importlib.import_module(name)))
    ]


MODULES = _modules_with_examples()


def test_the_examples_are_found():
    assert {"datapredict.parameters", "datapredict.merge.rules"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    failures, attempted = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=True
    )
    assert attempted > 0
    assert failures == 0
