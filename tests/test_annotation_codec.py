"""Annotation facts survive the trip to plain data and back, exactly."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nanopass
from nanopass.annotation_codec import NotEncodable, from_plain, to_plain
from nanopass.driver import default_pipeline
from nanopass.graph import Hyperedge

PLAIN = (int, float, str, bool, type(None))


def is_plain(data):
    return isinstance(data, PLAIN) or (isinstance(data, tuple) and all(is_plain(d) for d in data))


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.tuples(inner, inner) | st.lists(inner, max_size=3) | st.frozensets(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3) | st.tuples(st.just("@obj"), inner),
    max_leaves=12,
)


@given(values)
def test_plain_values_and_containers_round_trip(value):
    data = to_plain(value)
    assert is_plain(data)
    assert from_plain(data) == value


def test_attrs_facts_round_trip_and_keep_their_class():
    edge = Hyperedge("crossing", (3, 4), (("waiter", 7),))
    assert from_plain(to_plain(edge)) == edge and type(from_plain(to_plain(edge))) is Hyperedge
    assert math.isnan(from_plain(to_plain(float("nan"))))


def test_every_annotation_of_the_default_pipeline_round_trips_on_the_examples():
    for name in ("resolver", "process", "counter", "timeseries", "actors"):
        graph = nanopass.parse(open(f"examples/{name}.clef").read(), filename=f"{name}.clef")
        result = default_pipeline().run(graph).graph
        for table, facts in result.annotations.items():
            for node_id, fact in facts.items():
                assert from_plain(to_plain(fact)) == fact, (name, table, node_id)


def test_unencodable_values_and_unknown_classes_are_refused():
    with pytest.raises(NotEncodable):
        to_plain(object())
    with pytest.raises(NotEncodable, match="not loaded"):
        from_plain(("@obj", "some_unloaded_module_xyz:Thing"))

    with pytest.raises(NotEncodable, match="not an attrs class"):
        from_plain(("@obj", "nanopass.graph:NoSuchClass", ("x", 1)))


class Celsius:
    """A fact class the codec knows nothing of, registered by its own module."""

    def __init__(self, degrees: int):
        self.degrees = degrees

    def __eq__(self, other):
        return isinstance(other, Celsius) and other.degrees == self.degrees


def celsius(degrees: int) -> Celsius:
    return Celsius(degrees)


def test_a_registered_encoding_round_trips_through_its_decoder():
    from nanopass.annotation_codec import register_encoding

    register_encoding(Celsius, lambda c: c.degrees, f"{__name__}:celsius")
    assert to_plain({1: Celsius(21)}) == ("@dict", (1, ("@via", f"{__name__}:celsius", 21)))
    assert from_plain(to_plain({1: Celsius(21)})) == {1: Celsius(21)}


def test_a_decoder_outside_nanopass_and_not_loaded_is_refused():
    with pytest.raises(NotEncodable, match="not loaded"):
        from_plain(("@via", "os_but_not_loaded_module:system", "rm -rf /"))


def test_flowloss_figures_formulas_fractions_and_unbounded_ends_round_trip():
    import sympy as sp

    from nanopass.passes.flowloss_algebra import INF

    n = sp.Symbol("n", positive=True, integer=True)
    figures = [3 * n + 1, sp.Rational(83, 20), INF, sp.Max(n, 2) * n]
    assert [from_plain(to_plain(f)) for f in figures] == figures
