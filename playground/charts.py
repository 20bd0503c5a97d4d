"""Every plotly chart a page shows, with its text alternative beside it.

``plotly(fig, **options)`` is ``st.plotly_chart`` plus the summary the figure's builder attached
(``figures.palette.describe``) as a paragraph that screen readers read right after the chart and
that takes no room on the page (``nav.PAGE_CSS`` hides it visually, ``.sp-chart-summary``).
"""

from __future__ import annotations

import html

import streamlit as st

from playground.figures.palette import summary


def plotly(fig, **options):
    """Draw ``fig`` (``st.plotly_chart`` options apply) and its summary; returns the chart's event."""
    event = st.plotly_chart(fig, **options)
    text = summary(fig)
    if text:
        st.html(f'<p class="sp-chart-summary">{html.escape(text)}</p>')
    return event
