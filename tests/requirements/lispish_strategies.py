"""Hypothesis strategies for LispIsh trees, shared by the property tests."""

import string

from hypothesis import strategies as st

from requirements.lispish import MAX_INT, Call, Expression, Int, Str

names = st.text(alphabet=string.ascii_uppercase + "<=>/+-", min_size=1, max_size=12)
literals = st.builds(Int, st.integers(0, MAX_INT)) | st.builds(
    Str, st.text(max_size=20)
)
nodes = st.recursive(
    literals,
    lambda children: st.builds(Call, names, st.lists(children, max_size=4).map(tuple)),
    max_leaves=25,
)
expressions = st.builds(Call, names, st.lists(nodes, max_size=4).map(tuple)).map(
    Expression
)
