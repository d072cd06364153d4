"""training/ must run in the SageMaker scikit-learn container, not just here.

The container has its own Python and libraries and none of this project's dependencies
(no pydantic, no PyYAML, no modelrail package), so the code shipped in sourcedir.tar.gz is
checked against the container's facts rather than against this virtualenv.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import TypedDict

import numpy
import pytest
import sklearn

from infra.assets import TRAINING_CORE_MODULES


class ContainerFacts(TypedDict):
    framework_version: str
    python: tuple[int, int]
    sklearn: str
    numpy_major: int
    third_party: frozenset[str]


# The SageMaker scikit-learn framework image modelrail trains and serves with,
# "1.4-2-py312": Python 3.12, scikit-learn 1.4.2, numpy 2.1, pyarrow 17. The code is held
# to Python 3.10 syntax and library names, the floor of the 1.4-2 family ("1.4-2" runs
# 3.10), so either image runs it. Change these together with infra/config.py.
CONTAINER: ContainerFacts = {
    "framework_version": "1.4-2-py312",
    "python": (3, 10),
    "sklearn": "1.4.2",
    "numpy_major": 2,  # numpy 2.1; a model pickled under numpy 2 does not load on numpy 1
    # sagemaker_containers: the container's serving framework, whose handlers call ours;
    # inference.py imports it only at serve time, for the response object (D40).
    "third_party": frozenset(
        {"numpy", "pandas", "scipy", "sklearn", "joblib", "sagemaker_containers"}
    ),
}

# Standard-library names that appeared after the container's Python (3.10): they exist
# in this interpreter's sys.stdlib_module_names / modules but not there.
NEWER_STDLIB_MODULES = frozenset({"tomllib", "wsgiref.types"})
NEWER_STDLIB_NAMES = {
    "typing": frozenset(
        {
            "Self",
            "LiteralString",
            "Never",
            "assert_never",
            "assert_type",
            "reveal_type",
            "Required",
            "NotRequired",
            "TypeVarTuple",
            "Unpack",
            "dataclass_transform",
            "clear_overloads",
            "get_overloads",
            "override",
            "TypeAliasType",
        }
    ),
    "enum": frozenset(
        {"StrEnum", "ReprEnum", "EnumCheck", "FlagBoundary", "verify", "member", "nonmember"}
    ),
    "datetime": frozenset({"UTC"}),
    "builtins": frozenset({"ExceptionGroup", "BaseExceptionGroup"}),
}

TRAINING_DIR = Path(__file__).resolve().parents[2] / "training"
PACKAGE_DIR = TRAINING_DIR.parent / "modelrail"
# The core modules the source archive ships under modelrail/ (infra/assets.py).
CORE = tuple(PACKAGE_DIR / name for name in TRAINING_CORE_MODULES)
SOURCES = [*sorted(TRAINING_DIR.glob("*.py")), *CORE]
SIBLINGS = frozenset(p.stem for p in TRAINING_DIR.glob("*.py")) | {"modelrail"}
BUNDLED = frozenset(
    {
        "modelrail",
        *(f"modelrail.{Path(n).stem}" for n in TRAINING_CORE_MODULES if n != "__init__.py"),
    }
)


def container_problems(source: str, siblings: frozenset[str] = SIBLINGS) -> list[str]:
    """What in ``source`` would not run on the container's Python and libraries."""
    try:
        tree = ast.parse(source, feature_version=CONTAINER["python"])
    except SyntaxError as exc:
        return [f"syntax: {exc.msg} (line {exc.lineno})"]
    allowed = set(sys.stdlib_module_names) | CONTAINER["third_party"] | siblings
    problems = []
    modules: dict[str, str] = {}  # local name -> stdlib module it refers to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported = [alias.name]
                modules[alias.asname or alias.name.split(".")[0]] = alias.name
                problems += _import_problems(imported, allowed)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"line {node.lineno}: relative import (training/ is not a package)")
                continue
            module = node.module or ""
            problems += _import_problems([module], allowed)
            if module == "modelrail":
                problems += _import_problems([f"modelrail.{a.name}" for a in node.names], allowed)
            newer = NEWER_STDLIB_NAMES.get(module, frozenset())
            problems += [
                f"line {node.lineno}: {module}.{alias.name} is newer than Python 3.10"
                for alias in node.names
                if alias.name in newer
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in NEWER_STDLIB_NAMES.get(modules.get(node.value.id, ""), frozenset())
        ):
            module = modules[node.value.id]
            problems.append(f"line {node.lineno}: {module}.{node.attr} is newer than Python 3.10")
        elif isinstance(node, ast.Name) and node.id in NEWER_STDLIB_NAMES["builtins"]:
            problems.append(f"line {node.lineno}: {node.id} is newer than Python 3.10")
    return problems


# Standard-library modules Python 3.12 removed: present here (3.11), absent in the image.
REMOVED_IN_312 = frozenset({"distutils", "imp", "asynchat", "asyncore", "smtpd"})


def _import_problems(modules: list[str], allowed: set[str]) -> list[str]:
    problems = []
    for module in modules:
        if module.split(".")[0] in REMOVED_IN_312:
            problems.append(f"import {module}: removed in Python 3.12 (the container's Python)")
        elif module in NEWER_STDLIB_MODULES or module.split(".")[0] in NEWER_STDLIB_MODULES:
            problems.append(f"import {module}: newer than Python 3.10")
        elif module.split(".")[0] not in allowed:
            problems.append(f"import {module}: not available in the container")
        elif module.split(".")[0] == "modelrail" and module not in BUNDLED:
            problems.append(f"import {module}: not shipped with the training code")
    return problems


def test_training_sources_exist() -> None:
    assert {"train", "inference", "modelrail_features"} <= SIBLINGS
    assert all(path.is_file() for path in CORE)


def test_the_job_copies_the_core_modules_the_archive_ships() -> None:
    import ast as _ast

    tree = _ast.parse((TRAINING_DIR / "train.py").read_text())
    copied = next(
        _ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, _ast.Assign)
        and any(isinstance(t, _ast.Name) and t.id == "CORE_MODULES" for t in node.targets)
    )
    assert tuple(copied) == TRAINING_CORE_MODULES


def test_a_core_import_that_is_not_shipped_is_caught() -> None:
    assert container_problems("from modelrail import canonical\n") == []
    assert container_problems("from modelrail.contract import load_contract\n") == [
        "import modelrail.contract: not shipped with the training code"
    ]
    assert container_problems("from modelrail import contract\n") == [
        "import modelrail.contract: not shipped with the training code"
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_source_runs_on_the_container(path: Path) -> None:
    assert container_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import pydantic\n", "import pydantic: not available in the container"),
        ("from yaml import safe_load\n", "import yaml: not available in the container"),
        ("from modelrail.contract import METRICS\n", "import modelrail.contract: not available"),
        ("import tomllib\n", "import tomllib: newer than Python 3.10"),
        ("from typing import Self\n", "line 1: typing.Self is newer than Python 3.10"),
        ("import enum\nclass E(enum.StrEnum): pass\n", "line 2: enum.StrEnum is newer"),
        ("import datetime as dt\nnow = dt.datetime.now(dt.UTC)\n", "datetime.UTC is newer"),
        ("raise ExceptionGroup('x', [])\n", "line 1: ExceptionGroup is newer than Python 3.10"),
        ("try:\n    pass\nexcept* ValueError:\n    pass\n", "syntax: Exception groups"),
        ("type Alias = int\n", "syntax: invalid syntax"),
        ("from . import train\n", "relative import"),
        ("import distutils.version\n", "removed in Python 3.12"),
    ],
)
def test_the_checker_catches_what_the_container_lacks(source: str, problem: str) -> None:
    problems = container_problems(source, siblings=frozenset({"train"}))
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_checker_allows_the_container_libraries() -> None:
    source = (
        "import json, os.path\nimport numpy as np\nfrom sklearn.pipeline import Pipeline\n"
        "import scipy.stats\nimport joblib\nimport pandas as pd\nimport train\n"
        "match 1:\n    case 1:\n        pass\n"
    )
    assert container_problems(source, siblings=frozenset({"train"})) == []


def test_local_scikit_learn_is_the_containers() -> None:
    # A pipeline pickled by another scikit-learn version may not load (or may differ)
    # in the container: pyproject pins scikit-learn to the framework version.
    assert sklearn.__version__ == CONTAINER["sklearn"]


def test_local_numpy_major_is_the_containers() -> None:
    assert int(numpy.__version__.split(".")[0]) == CONTAINER["numpy_major"]


def test_the_deployed_framework_is_the_one_these_facts_describe() -> None:
    from infra.config import EnvironmentConfig

    assert (
        EnvironmentConfig.model_fields["sklearn_framework_version"].default
        == CONTAINER["framework_version"]
    )
