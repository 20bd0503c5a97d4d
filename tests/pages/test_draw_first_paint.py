"""A new visitor's Draw page draws its pad before anything imports PyTorch.

After a restart the first visitor's page run pays for importing PyTorch and for loading MNIST and
the default model; Draw draws the pad first, so the pad is on the screen while that goes on. The
test runs Draw in a fresh interpreter in which importing PyTorch fails: the page must have drawn
the canvas, the empty bars, the answer line and the hint before the first import of PyTorch stops
it.
"""

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

PROBE = textwrap.dedent(
    """
    import json, sys

    class NoTorch:  # importing PyTorch fails from here on, and says where it was
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("PyTorch imported")
            return None

    sys.meta_path.insert(0, NoTorch())
    from streamlit.testing.v1 import AppTest

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    at = AppTest.from_file(sys.argv[1], default_timeout=60)
    at.query_params["lang"] = "en"
    at.switch_page("pages/5_Draw.py").run()
    components = [e.proto.component_name for e in walk(at._tree) if e.type == "bidi_component"]
    print(json.dumps({
        "exceptions": [e.value for e in at.exception],
        "info": [i.value for i in at.info],
        "captions": [c.value for c in at.caption],
        "metrics": [m.value for m in at.metric],
        "bars": [h.proto.body for h in at.get("html") if 'class="sp-bars"' in h.proto.body],
        "components": components,
    }))
    """
)


def test_a_new_visitors_pad_is_drawn_before_pytorch_is_imported(tmp_path):
    env = {
        **os.environ,
        "SOFTMAX_PLAYGROUND_DATA": str(tmp_path),
        "SOFTMAX_PLAYGROUND_ROOM": str(tmp_path / "room.toml"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "streamlit_app.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout.strip().splitlines()[-1])
    assert page["exceptions"] == ["PyTorch imported"]  # the page went on to the room, and stopped there
    assert any("streamlit_drawable_canvas" in name for name in page["components"]), page["components"]
    assert len(page["bars"]) == 1 and "%</span>" not in page["bars"][0]  # the bars, empty
    assert page["metrics"] == ["—", "—", "—"]
    assert any(text.startswith("Draw a digit on the black pad") for text in page["info"]), page["info"]
    assert "Loading the model that predicts…" in page["captions"]  # the model's line keeps its place
