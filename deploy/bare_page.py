"""The floor: a bare Streamlit page with 5 metrics and 3 Plotly charts (the overview's shape), no data store."""

import plotly.express as px
import streamlit as st

st.set_page_config(layout="wide")
cols = st.columns(5)
for i, c in enumerate(cols):
    c.metric(f"metric {i}", f"{1000 + i:,}", border=True)
left, middle, right = st.columns(3)
left.plotly_chart(px.bar(x=["a", "b", "c", "d"], y=[3, 5, 2, 4]))
middle.plotly_chart(px.imshow([[1, 2, 3], [3, 1, 2], [2, 3, 1]]))
right.plotly_chart(px.bar(x=[4, 2, 1], y=["x", "y", "z"], orientation="h"))
