"""Always-visible Clear and Undo buttons for the drawing canvas, for fingers and styluses too.

streamlit-drawable-canvas shows its own undo/reset toolbar only on mouse hover, which a tablet
never has. These two buttons press the canvas's own (hidden) toolbar buttons in the page, so
undo keeps the canvas's history and no extra round trip to the server is needed: the canvas
sends its new drawing as after any stroke.
"""

from __future__ import annotations

import streamlit as st

_CSS = """
.pad-tools { display: flex; gap: 0.5rem; margin: 0.25rem 0; }
.pad-tools button {
  font: inherit; padding: 0.45rem 0.9rem; min-height: 2.5rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid rgba(49, 51, 63, 0.25); background: var(--st-secondary-background-color, #f0f2f6);
  color: var(--st-text-color, #31333f); touch-action: manipulation;
}
.pad-tools button:active { transform: translateY(1px); }
"""

_JS = """
export default function(component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".pad-tools");
  if (!root) {
    root = document.createElement("div");
    root.className = "pad-tools";
    parentElement.appendChild(root);
  }
  root.innerHTML = "";
  const press = (label) => {
    const host = document.querySelector(".st-key-" + data.canvas);
    if (!host) return;
    const shadows = [host, ...host.querySelectorAll("*")].map((el) => el.shadowRoot).filter(Boolean);
    for (const shadow of shadows) {
      const button = shadow.querySelector('button[aria-label="' + label + '"]');
      if (button) { button.click(); return; }
    }
  };
  for (const [text, label, key] of [[data.undo, "Undo", "undo"], [data.clear, "Reset canvas & history", "clear"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.dataset.tool = key;
    button.addEventListener("click", () => press(label));
    root.appendChild(button);
  }
}
"""

_component = None


def pad_tools(canvas_key: str, undo: str, clear: str) -> None:
    """The Undo and Clear buttons for the canvas drawn under ``canvas_key``."""
    global _component
    if _component is None:  # registered on first use, under a running server
        _component = st.components.v2.component("softmax_playground_pad_tools", css=_CSS, js=_JS)
    try:
        _component(key="draw-pad-tools", data={"canvas": canvas_key, "undo": undo, "clear": clear}, height=48)
    except Exception:  # not logged: no frontend to draw into (scripts, some tests): the canvas's own toolbar remains
        pass
