"""Plotly figure builders, one module per topic (training, softmax, ...).

Builders take plain data and return figures or DataFrames; none calls Streamlit.
"""
