"""Model parameters: structures, deep copies, checks and the flat ``Layout``."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datapredict.errors import DataTypeError, NonFiniteError, ParameterStructureError
from datapredict.parameters import Layout, check_finite, copy_parameters, leaves, read_only_view

KINDS = ("array", "list", "tuple", "dict")


def build(kind: str, arrays: list[np.ndarray]):
    """A parameter structure of ``kind`` holding ``arrays`` (one array for "array")."""
    if kind == "array":
        return arrays[0]
    if kind == "dict":
        return {f"w{i}": a for i, a in enumerate(arrays)}
    return list(arrays) if kind == "list" else tuple(arrays)


def arrays_of(params) -> list[np.ndarray]:
    if isinstance(params, np.ndarray):
        return [params]
    return list(params.values()) if isinstance(params, dict) else list(params)


def assert_same_structure(got, expected) -> None:
    assert type(got) is type(expected)
    if isinstance(expected, dict):
        assert list(got) == list(expected)
    for a, b in zip(arrays_of(got), arrays_of(expected), strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def example_arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 2)), rng.standard_normal((2, 4)), rng.standard_normal(5)]


# ------------------------------------------------------------------ copies


@pytest.mark.parametrize("kind", KINDS)
def test_copy_is_deep_and_keeps_the_structure(kind, example_arrays):
    params = build(kind, example_arrays)
    copied = copy_parameters(params)

    assert_same_structure(copied, params)
    for original, copy in zip(arrays_of(params), arrays_of(copied), strict=True):
        assert not np.shares_memory(original, copy)
    for copy in arrays_of(copied):
        copy += 1.0
    assert_same_structure(params, build(kind, example_arrays))


def test_copy_of_a_named_tuple_is_a_plain_tuple(example_arrays):
    Pair = namedtuple("Pair", "weights bias")
    copied = copy_parameters(Pair(example_arrays[0], example_arrays[1]))

    assert type(copied) is tuple
    np.testing.assert_array_equal(copied[1], example_arrays[1])


@pytest.mark.parametrize(
    "params",
    [[np.ones(2), [1.0, 2.0]], {"w": np.arange(3)}, np.ones(2, dtype=complex), [], "weights"],
    ids=["list-leaf", "int-leaf", "complex", "empty", "string"],
)
def test_copy_rejects_what_is_not_parameters(params):
    with pytest.raises(DataTypeError) as info:
        copy_parameters(params)
    assert isinstance(info.value, TypeError)


# ------------------------------------------------------------------ finiteness


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("kind", "where"), [("list", "params[1]"), ("dict", "params['w1']")])
def test_check_finite_names_the_array(bad, kind, where, example_arrays):
    example_arrays[1][1, 2] = bad
    with pytest.raises(NonFiniteError) as info:
        check_finite(build(kind, example_arrays), "params")
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{where} must be finite")
    assert "1 NaN or infinite" in str(info.value)


def test_check_finite_accepts_finite_parameters(example_arrays):
    assert check_finite(example_arrays) is None


def test_leaves_name_positions_in_order(example_arrays):
    found = leaves({"a": example_arrays[0], "b": example_arrays[1]}, "p")
    assert [where for where, _ in found] == ["p['a']", "p['b']"]
    assert found[1][1] is example_arrays[1]


# ------------------------------------------------------------------ layout


def test_layout_records_structure_and_widest_float_dtype():
    params = {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float64)}
    layout = Layout.from_template(params)

    assert (layout.kind, layout.keys) == ("dict", ("w", "b"))
    assert layout.shapes == ((3, 2), (2,))
    assert layout.offsets == (0, 6, 8) and layout.size == 8
    assert layout.dtype == np.float64
    assert Layout.from_template([np.ones(2, np.float32)]).dtype == np.float32


@pytest.mark.parametrize("kind", KINDS)
def test_flatten_concatenates_in_layout_order(kind, example_arrays):
    params = build(kind, example_arrays)
    flat = Layout.from_template(params).flatten(params)

    expected = np.concatenate([a.ravel() for a in arrays_of(params)])
    np.testing.assert_array_equal(flat, expected)
    assert flat.flags.c_contiguous and flat.ndim == 1


@pytest.mark.parametrize("kind", KINDS)
def test_unflatten_returns_views_into_the_vector(kind, example_arrays):
    layout = Layout.from_template(build(kind, example_arrays))
    flat = np.zeros(layout.size)
    views = layout.unflatten(flat)

    flat[:] = np.arange(layout.size)
    for view, start in zip(arrays_of(views), layout.offsets, strict=False):
        assert np.shares_memory(view, flat)
        assert view.flat[0] == start
    arrays_of(views)[-1][...] = -1.0
    assert flat[-1] == -1.0


def test_flatten_accepts_dict_keys_in_any_order(example_arrays):
    layout = Layout.from_template({"a": example_arrays[0], "b": example_arrays[1]})
    flat = layout.flatten({"b": example_arrays[1], "a": example_arrays[0]})

    np.testing.assert_array_equal(flat[:6], example_arrays[0].ravel())


@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        ([np.ones((3, 2)), np.ones((4, 3))], ["parameters[1]", "(4, 3)", "expected", "(2, 4)"]),
        ([np.ones((3, 2))], ["must hold 2 arrays", "got 1"]),
        ((np.ones((3, 2)), np.ones((2, 4))), ["must be a list", "got a tuple"]),
        (np.ones((3, 2)), ["must be a list", "got an ndarray"]),
    ],
    ids=["shape", "count", "container", "array"],
)
def test_check_names_position_expected_and_received(params, fragments, example_arrays):
    layout = Layout.from_template(example_arrays[:2])
    with pytest.raises(ParameterStructureError) as info:
        layout.flatten(params)
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        ({"a": np.ones((3, 2)), "b": np.ones(3)}, ["parameters['b']", "(3,)", "(2, 4)"]),
        ({"a": np.ones((3, 2))}, ["no key 'b'", "['a', 'b']"]),
        ({"a": np.ones((3, 2)), "b": np.ones((2, 4)), "c": np.ones(1)}, ["unexpected key 'c'"]),
    ],
    ids=["shape", "missing", "unexpected"],
)
def test_check_names_the_dict_key(params, fragments, example_arrays):
    layout = Layout.from_template({"a": example_arrays[0], "b": example_arrays[1]})
    with pytest.raises(ParameterStructureError) as info:
        layout.check(params)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_check_rejects_lossy_dtype_but_accepts_widening():
    layout32 = Layout.from_template([np.ones(2, np.float32)])
    with pytest.raises(ParameterStructureError, match="float64"):
        layout32.flatten([np.ones(2, np.float64)])

    flat = Layout.from_template([np.ones(2)]).flatten([np.full(2, 0.5, np.float32)])
    assert flat.dtype == np.float64 and flat[0] == 0.5


def test_flatten_into_out_writes_only_valid_parameters(example_arrays):
    layout = Layout.from_template(example_arrays)
    out = np.full(layout.size, 7.0)

    with pytest.raises(ParameterStructureError):
        layout.flatten([example_arrays[0], example_arrays[0], example_arrays[2]], out=out)
    assert (out == 7.0).all()
    assert layout.flatten(example_arrays, out=out) is out
    np.testing.assert_array_equal(out[:6], example_arrays[0].ravel())


def test_flatten_without_copy_views_one_contiguous_array():
    matrix = np.arange(6.0).reshape(3, 2)
    layout = Layout.from_template(matrix)

    flat = layout.flatten(matrix, copy=False)
    assert np.shares_memory(flat, matrix) and flat.shape == (6,)
    assert not np.shares_memory(layout.flatten(matrix), matrix)
    np.testing.assert_array_equal(flat, matrix.ravel())


@pytest.mark.parametrize(
    "params",
    [np.asfortranarray(np.arange(6.0).reshape(3, 2)), np.arange(6, dtype=np.float32).reshape(3, 2)],
    ids=["not C-contiguous", "other float dtype"],
)
def test_flatten_without_copy_still_copies_what_it_cannot_view(params):
    layout = Layout.from_template(np.zeros((3, 2)))
    flat = layout.flatten(params, copy=False)
    assert not np.shares_memory(flat, params) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat, np.asarray(params, dtype=np.float64).ravel())


def test_flatten_without_copy_still_checks_the_structure(example_arrays):
    layout = Layout.from_template(example_arrays)
    with pytest.raises(ParameterStructureError, match="shape"):
        layout.flatten([example_arrays[0], example_arrays[0], example_arrays[2]], copy=False)
    with pytest.raises(ParameterStructureError, match="shape"):
        Layout.from_template(np.zeros((3, 2))).flatten(np.zeros((2, 3)), copy=False)


@pytest.mark.parametrize(
    "out",
    [np.empty(3), np.empty(19, np.float32), np.empty((19, 1)), [0.0] * 19],
    ids=["size", "dtype", "ndim", "list"],
)
def test_flatten_rejects_a_bad_out(out, example_arrays):
    with pytest.raises(ParameterStructureError, match="out must be an ndarray of shape"):
        Layout.from_template(example_arrays).flatten(example_arrays, out=out)


def test_unflatten_rejects_wrong_size_and_non_float(example_arrays):
    layout = Layout.from_template(example_arrays)
    with pytest.raises(ParameterStructureError, match=r"shape \(19,\); got \(18,\)"):
        layout.unflatten(np.zeros(18))
    with pytest.raises(DataTypeError, match="int64"):
        layout.unflatten(np.zeros(19, dtype=np.int64))
    with pytest.raises(DataTypeError, match="list"):
        layout.unflatten([0.0] * 19)


# ------------------------------------------------------------------ properties

FLOAT_DTYPES = st.sampled_from([np.float32, np.float64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@st.composite
def float_arrays(draw) -> np.ndarray:
    dtype = draw(FLOAT_DTYPES)
    return draw(hnp.arrays(dtype, SHAPES, elements=st.floats(-1e6, 1e6, width=32)))


@st.composite
def structures(draw):
    kind = draw(st.sampled_from(KINDS))
    count = 1 if kind == "array" else draw(st.integers(1, 4))
    return build(kind, [draw(float_arrays()) for _ in range(count)])


@settings(max_examples=60, deadline=None)
@given(structures())
def test_unflatten_of_flatten_is_the_identity(params):
    layout = Layout.from_template(params)
    flat = layout.flatten(params)
    restored = layout.unflatten(flat)

    assert flat.shape == (layout.size,) and flat.dtype == layout.dtype
    assert_same_structure(restored, params)
    for view in arrays_of(restored):
        assert view.dtype == layout.dtype
        assert view.size == 0 or np.shares_memory(view, flat)


@settings(max_examples=40, deadline=None)
@given(structures(), st.data())
def test_flatten_of_unflatten_is_the_identity(params, data):
    layout = Layout.from_template(params)
    vector = data.draw(hnp.arrays(layout.dtype, layout.size, elements=st.floats(-1, 1, width=32)))

    np.testing.assert_array_equal(layout.flatten(layout.unflatten(vector)), vector)


BAD_LEAVES = {
    "integer": lambda a: a.astype(np.int64),
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "bool": lambda a: a > 0,
    "nested list": lambda a: a.tolist() if a.ndim else [a.tolist()],
    "ragged": lambda a: np.array([np.ones(2), np.ones(3)], dtype=object),
}


@settings(max_examples=40, deadline=None)
@given(structures(), st.sampled_from(sorted(BAD_LEAVES)), st.data())
def test_non_float_leaves_are_rejected(params, bad, data):
    arrays = arrays_of(params)
    index = data.draw(st.integers(0, len(arrays) - 1))
    layout = Layout.from_template(params)
    kind = layout.kind
    broken = list(arrays)
    broken[index] = BAD_LEAVES[bad](arrays[index])
    broken_params = build(kind, broken)

    with pytest.raises(DataTypeError):
        Layout.from_template(broken_params)
    with pytest.raises((DataTypeError, ParameterStructureError)):
        layout.flatten(broken_params)


@settings(max_examples=40, deadline=None)
@given(structures(), st.data())
def test_a_changed_shape_is_named_with_both_shapes(params, data):
    arrays = arrays_of(params)
    index = data.draw(st.integers(0, len(arrays) - 1))
    layout = Layout.from_template(params)
    broken = list(arrays)
    broken[index] = np.zeros((*arrays[index].shape, 2), dtype=arrays[index].dtype)

    with pytest.raises(ParameterStructureError) as info:
        layout.flatten(build(layout.kind, broken), "params")
    message = str(info.value)
    assert str(broken[index].shape) in message and str(arrays[index].shape) in message
    position = {"array": "", "dict": f"['w{index}']"}.get(layout.kind, f"[{index}]")
    assert message.startswith(f"params{position} has shape")


def test_read_only_view_shares_memory_but_refuses_writes():
    array = np.arange(4.0)
    view = read_only_view(array)
    assert np.shares_memory(view, array) and array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 9.0
    array[0] = 9.0
    assert view[0] == 9.0
