"""What every merge step checks: children counts, empty input, the registry, one style."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from datapredict.errors import (
    DataTypeError,
    InvalidDataError,
    InvalidOptionError,
    ParameterStructureError,
)
from datapredict.merge import (
    MERGE_RULES,
    SERVER_OPTIMIZERS,
    STALENESS_WEIGHTS,
    Average,
    Bulyan,
    FedAvg,
    GeometricMedian,
    Krum,
    Median,
    MultiKrum,
    NormClip,
    Registry,
    TrimmedMean,
    resolve_rule,
    resolve_server_optimizer,
    resolve_staleness,
)


def first_row(stacked, weights=None):
    return stacked[0].copy()


# (rule, least number of children, requirement as the message words it)
REQUIREMENTS = [
    (Average(), 1, "K >= 1 children"),
    (FedAvg(), 1, "K >= 1 children"),
    (Median(), 1, "K >= 1 children"),
    (TrimmedMean(beta=0.45), 1, "K >= 1 children"),
    (GeometricMedian(), 1, "K >= 1 children"),
    (Krum(1), 5, r"K > 2f \+ 2 = 4 children \(f = num_malicious = 1\)"),
    (Krum(3), 9, r"K > 2f \+ 2 = 8 children \(f = num_malicious = 3\)"),
    (MultiKrum(1), 5, r"K > 2f \+ 2 = 4 children"),
    (MultiKrum(2, 3), 7, r"K > 2f \+ 2 = 6 children"),  # m + f = 5 < 7
    (MultiKrum(1, 6), 7, r"K >= num_to_keep \+ f = 7 children \(f = num_malicious = 1\)"),
    (NormClip(1.0, rule=Krum(2)), 7, r"K > 2f \+ 2 = 6 children"),
    (Bulyan(1), 7, r"K >= 4f \+ 3 = 7 children \(f = num_malicious = 1\)"),
    (Bulyan(2), 11, r"K >= 4f \+ 3 = 11 children \(f = num_malicious = 2\)"),
    (NormClip(1.0, rule=Bulyan(0)), 3, r"K >= 4f \+ 3 = 3 children"),
    (NormClip(1.0), 1, "K >= 1 children"),
    (NormClip(1.0, rule=first_row), 1, "K >= 1 children"),
]
IDS = [repr(rule) for rule, _, _ in REQUIREMENTS]


@pytest.mark.parametrize(("rule", "minimum", "requirement"), REQUIREMENTS, ids=IDS)
def test_check_num_children(rule, minimum, requirement):
    rule.check_num_children(minimum, "DistributedGradients")
    rule.check_num_children(minimum + 3)
    inner = rule.rule if isinstance(rule, NormClip) and hasattr(rule.rule, "name") else rule
    with pytest.raises(InvalidOptionError) as error:
        rule.check_num_children(minimum - 1, "DistributedGradients")
    message = str(error.value)
    assert message.startswith(f"DistributedGradients: the merge rule {inner!r} needs ")
    assert re.search(requirement, message)
    assert message.endswith(f"got K = {minimum - 1}")


@pytest.mark.parametrize(
    ("rule", "minimum", "requirement"),
    [case for case in REQUIREMENTS if case[1] >= 2],  # every stack has at least one row
    ids=repr,
)
def test_too_few_rows_raise_our_error_not_index_error(rule, minimum, requirement):
    stacked = np.random.default_rng(0).standard_normal((minimum - 1, 3))
    weights = np.ones(minimum - 1) if rule.requires_weights else None
    with pytest.raises(InvalidOptionError, match=f"needs {requirement}.*; got K = {minimum - 1}$"):
        rule(stacked, weights)
    rule(np.random.default_rng(0).standard_normal((minimum, 3)), weights)


@pytest.mark.parametrize("n", [2.0, "3", True, None, -1])
def test_check_num_children_rejects_non_counts(n):
    with pytest.raises(InvalidOptionError, match="'num_children' option of DistributedGradients"):
        Krum(1).check_num_children(n, "DistributedGradients")


@pytest.mark.parametrize("rule", [rule for rule, _, _ in REQUIREMENTS], ids=IDS)
@pytest.mark.parametrize("shape", [(5, 0), (0, 4), (0, 0)])
def test_empty_stacks_are_refused(rule, shape):
    with pytest.raises(InvalidDataError, match=rf"P >= 1 parameters; got shape \({shape[0]}, "):
        rule(np.ones(shape))


@pytest.mark.parametrize("name", list(SERVER_OPTIMIZERS))
@pytest.mark.parametrize("params", [np.zeros(0), np.zeros((2, 3)), np.array(1.0)])
def test_server_optimizers_refuse_empty_or_ill_shaped_params(name, params):
    optimizer = SERVER_OPTIMIZERS[name]()
    with pytest.raises(ParameterStructureError, match=r"params must have shape \(P,\) with P >= 1"):
        optimizer.init(params)
    state = optimizer.init(np.zeros(3))
    with pytest.raises(ParameterStructureError, match=r"got shape"):
        optimizer.update(np.zeros(params.shape), state, params)
    with pytest.raises(DataTypeError, match="merged must hold real numbers; got dtype <U1"):
        optimizer.update(np.array(["a", "b", "c"]), state, np.zeros(3))


@pytest.mark.parametrize("name", list(STALENESS_WEIGHTS))
@pytest.mark.parametrize("staleness", [np.array([], dtype=int), np.zeros((3, 0), dtype=int)])
def test_staleness_weights_refuse_empty_arrays(name, staleness):
    with pytest.raises(InvalidDataError, match="staleness must hold at least one value"):
        STALENESS_WEIGHTS[name]()(staleness)


# ------------------------------------------------------------------------- registry
def test_registry_resolves_names_instances_and_none():
    names = {"first": lambda: "made"}
    registry = Registry("kind", names, "a str", lambda value: isinstance(value, str))
    assert registry.resolve("  FIRST ", owner="test") == "made"
    names["second"] = lambda: "later"  # the mapping is read at each call
    assert registry.resolve("Second", owner="test") == "later"
    with pytest.raises(InvalidOptionError) as error:
        registry.resolve(None, owner="test")
    assert str(error.value) == (
        "The 'kind' option of test must be one of 'first', 'second' (any case), or a str. "
        "Got None instead."
    )
    with_default = dataclasses.replace(registry, default=lambda: "default")
    assert with_default.resolve(None, owner="test") == "default"
    assert with_default.expected().startswith("None, one of 'first'")


@pytest.mark.parametrize(
    ("resolve", "option", "names", "cls"),
    [
        (resolve_rule, "merge_type", MERGE_RULES, Median),
        (resolve_server_optimizer, "server_optimizer", SERVER_OPTIMIZERS, FedAvg),
        (resolve_staleness, "staleness", STALENESS_WEIGHTS, Median),
    ],
)
def test_the_three_resolvers_share_one_template(resolve, option, names, cls):
    for name, factory in names.items():
        assert resolve(f" {name.upper()} ") == factory()
    for bad in ("nope", cls, 3):
        with pytest.raises(InvalidOptionError) as error:
            resolve(bad, owner="Owner")
        message = str(error.value)
        assert message.startswith(f"The {option!r} option of Owner must be ")
        assert ", ".join(map(repr, names)) + " (any case), or " in message
        assert message.endswith(f"Got {bad!r} instead.")


ALL_CLASSES = [*MERGE_RULES.values(), NormClip, *SERVER_OPTIMIZERS.values()]
ALL_CLASSES += list(STALENESS_WEIGHTS.values())


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
def test_one_style_frozen_dataclasses(cls):
    instance = cls(1.0) if cls is NormClip else cls()
    assert dataclasses.is_dataclass(instance)
    assert cls.__dataclass_params__.frozen
    assert instance == (cls(1.0) if cls is NormClip else cls())
    assert hash(instance) == hash(cls(1.0) if cls is NormClip else cls())
    fields = dataclasses.fields(instance)
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(instance, fields[0].name, 0.5)
