"""The MNIST data lab: the images by digit, one image through the lecture's transform, and where
Normalize's 0.1307 and 0.3081 come from."""

import streamlit as st

from core import transforms
from core.data import MNIST_MEAN, MNIST_STD, MnistLoadError
from playground.figures import data as figs
from playground.resources import get_mnist

st.set_page_config(page_title="MNIST data · Softmax Playground", page_icon="🔢", layout="wide")

P = "data."  # widget keys
PER_PAGE = 32
COLS = 8
DIGITS = [figs.ALL_DIGITS, *range(10)]
VALUE_VIEWS = {  # what the pixel heatmap writes on each pixel: step index, decimals, colour range
    "bytes": ("uint8 0..255 (as stored)", 0, 0, (0.0, 255.0)),
    "tensor": ("after ToTensor(): ÷ 255", 1, 2, (0.0, 1.0)),
    "normalized": ("after Normalize", 2, 2, ((0 - MNIST_MEAN) / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD)),
}

st.title("🔢 The MNIST data lab")
st.caption("What the network is fed: 28×28 grey images of handwritten digits, turned into tensors by the "
           "lecture's `transforms.Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])`.")

try:
    mnist = get_mnist()
except MnistLoadError as error:
    st.error(f"MNIST could not be loaded from any source, so there is nothing to show. See *Getting MNIST* "
             f"in the README.\n\n```\n{error}\n```", icon="🚫")
    st.stop()

n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
source_line = figs.source_sentence(mnist.source, n_train, n_test)
if mnist.is_subset:
    st.warning(f"**Data:** {source_line} To get the full set, see *Getting MNIST* in the README.", icon="🗂️")
else:
    st.info(f"**Data:** {source_line}", icon="🗂️")


@st.cache_data(show_spinner="Counting all the training pixels…", max_entries=4)
def training_pixel_stats(source: str, n_images: int) -> transforms.PixelStats:
    """One pass over every training pixel, once per dataset (the arguments say which one)."""
    return transforms.pixel_stats(get_mnist().train_images)


# ---- the images by digit ------------------------------------------------------------------


def back_to_first_page() -> None:
    st.session_state[P + "page"] = 1


def turn_page(delta: int, pages: int) -> None:
    st.session_state[P + "page"] = min(max(st.session_state.get(P + "page", 1) + delta, 1), pages)


def open_clicked_image(event) -> None:
    """A click on the grid opens that image below (once per new click: the event stays until the next)."""
    index = figs.clicked_index(event)
    if index is not None and index != st.session_state.get(P + "last_click"):
        st.session_state[P + "last_click"] = index
        st.session_state[P + "index"] = index


st.header("The training images by digit")
grid_col, counts_col = st.columns([3, 2], gap="large")
with counts_col:
    digit = st.selectbox("Digit", DIGITS, key=P + "digit", on_change=back_to_first_page,
                         format_func=lambda d: "all digits" if d == figs.ALL_DIGITS else f"{d}s only")
    labels = mnist.train_labels.numpy()
    train_counts = mnist.train_labels.bincount(minlength=10).tolist()
    test_counts = mnist.test_labels.bincount(minlength=10).tolist()
    st.plotly_chart(figs.class_counts_figure(train_counts, test_counts, digit), key=P + "counts",
                    config={"displayModeBar": False})
    st.caption(figs.counts_sentence(train_counts))

with grid_col:
    pages = figs.grid_page(labels, digit, 1, PER_PAGE).pages
    if not 1 <= st.session_state.get(P + "page", 1) <= pages:
        back_to_first_page()
    back, number, forward = st.columns([1, 1.2, 1], vertical_alignment="bottom")
    back.button("◀ Previous", key=P + "prev", on_click=turn_page, args=(-1, pages), width="stretch")
    page_number = number.number_input(f"Page (of {pages})", 1, pages, step=1, key=P + "page")
    forward.button("Next ▶", key=P + "next", on_click=turn_page, args=(1, pages), width="stretch")
    grid = figs.grid_page(labels, digit, page_number, PER_PAGE)
    which = f"all {grid.matching:,}" if digit == figs.ALL_DIGITS else f"the {grid.matching:,} labelled {digit}"
    st.caption(f"Images {grid.first:,}–{grid.last:,} of {which} "
               f"(training indices {', '.join(str(i) for i in grid.indices)}). "
               "Each is captioned *label · #index*; click one to open it up below.")
    open_clicked_image(st.session_state.get(P + "grid"))  # before drawing, so the grid marks the new pick
    st.plotly_chart(
        figs.image_grid_figure(mnist.train_images[grid.indices].numpy(), grid.indices, labels[grid.indices],
                               cols=COLS, picked=st.session_state.get(P + "index", 0)),
        key=P + "grid", on_select="rerun", selection_mode="points", config={"displayModeBar": False})


# ---- one image, step by step ----------------------------------------------------------------

st.header("One image opened up")
if not 0 <= st.session_state.get(P + "index", 0) < n_train:  # kept from a larger dataset: start again
    st.session_state[P + "index"] = 0
index_col, view_col = st.columns([1, 2], vertical_alignment="bottom")
index = int(index_col.number_input("Training image index", 0, n_train - 1, step=1, key=P + "index",
                                   help="Type any index, or click an image in the grid above."))
view = view_col.radio("Numbers on the pixels", list(VALUE_VIEWS), key=P + "values", horizontal=True,
                      format_func=lambda v: VALUE_VIEWS[v][0])
image = mnist.train_images[index].numpy()  # [28, 28] uint8
steps = transforms.lecture_transform_steps(image)
st.markdown(f"Training image **#{index}**, labelled **{int(labels[index])}**: 28 × 28 = 784 pixels, "
            "one byte each (0 is the black background, 255 full ink).")
_, step_index, decimals, (zmin, zmax) = VALUE_VIEWS[view]
st.plotly_chart(figs.pixel_values_figure(steps[step_index].values, zmin, zmax, decimals), key=P + "pixels",
                config={"displayModeBar": False})

st.subheader("The lecture's transform, step by step")
st.dataframe(figs.steps_frame(steps), hide_index=True, key=P + "steps",
             column_config={c: st.column_config.NumberColumn(format="%.4f") for c in ("min", "max", "mean")})
explain_col, code_col = st.columns([1.2, 1], gap="large")
with explain_col:
    st.markdown(f"""
1. torchvision's `MNIST` dataset hands the transform a **PIL image** (mode `L`, 8-bit grey). `ToTensor`
   reads it as NumPy does, **H×W×C** = 28 × 28 × 1 bytes.
2. **`ToTensor()`** moves the channel first (**C×H×W**, PyTorch's layout) and divides by 255:
   `uint8` 0..255 becomes `float32` 0..1.
3. **`Normalize((0.1307,), (0.3081,))`** subtracts the mean and divides by the standard deviation (one value per
   channel, hence the 1-tuples): the background 0 becomes (0 − 0.1307) / 0.3081 = **{-MNIST_MEAN / MNIST_STD:.4f}**,
   full ink 1 becomes **{(1 - MNIST_MEAN) / MNIST_STD:.4f}**.
4. The MLP's **`x.view(-1, 784)`** lays the 28 rows end to end: a batch `[64, 1, 28, 28]` becomes `[64, 784]`,
   here one image `[1, 28, 28]` becomes `[1, 784]`. `-1` lets PyTorch work out the batch size.
""")
with code_col:
    st.code("""transform = transforms.Compose([
    transforms.ToTensor(),  # [1, 28, 28] in [0, 1]
    transforms.Normalize((0.1307,), (0.3081,)),
])
train = datasets.MNIST("data", train=True,
                       download=True, transform=transform)
x, y = train[%d]  # y = %d
x.view(-1, 784).shape  # torch.Size([1, 784])""" % (index, int(labels[index])), language="python")

st.markdown("**The vector the MLP sees**: `x.view(-1, 784)[0]`, row 0's 28 pixels first, then row 1's, …")
st.plotly_chart(figs.flat_vector_figure(steps[-1].values), key=P + "vector", config={"displayModeBar": False})
st.caption("Each bump is one image row crossing the stroke. The flat vector keeps every value but forgets which "
           "pixels were neighbours: that is why the lecture's MLP stops near 97–98% and a CNN does better.")


# ---- where 0.1307 and 0.3081 come from -----------------------------------------------------

st.header("Where 0.1307 and 0.3081 come from")
stats = training_pixel_stats(mnist.source, n_train)
st.markdown(f"They are the **mean and standard deviation of every pixel of the training set**, after "
            f"`ToTensor()`'s ÷ 255: here {stats.n_images:,} images × 784 = {stats.n_pixels:,} pixels, "
            f"computed live.")
mean_col, std_col, zero_col = st.columns(3)
mean_col.metric("mean of all training pixels", f"{stats.mean:.4f}", delta_color="off", delta_arrow="off",
                delta=f"{stats.mean - MNIST_MEAN:+.5f} from the lecture's {MNIST_MEAN}")
std_col.metric("std of all training pixels", f"{stats.std:.4f}", delta_color="off", delta_arrow="off",
               delta=f"{stats.std - MNIST_STD:+.5f} from the lecture's {MNIST_STD}")
zero_col.metric("pixels that are pure background (0)", f"{stats.zero_fraction:.1%}")
matches = round(stats.mean, 4) == MNIST_MEAN and round(stats.std, 4) == MNIST_STD
if mnist.is_subset:
    st.info(f"These numbers come from the **{stats.n_images:,}-image subset** shipped with the app, so they differ "
            f"a little from the lecture's, which were computed on all 60,000 training images. On the full set "
            f"this page shows exactly {MNIST_MEAN} and {MNIST_STD}.", icon="🗂️")
elif matches:
    st.success(f"Rounded to 4 decimals these are the lecture's {MNIST_MEAN} and {MNIST_STD}.", icon="✅")
else:
    st.warning(f"These differ from the lecture's {MNIST_MEAN} and {MNIST_STD}: this is not the standard "
               "MNIST training set.", icon="⚠️")

table_col, code_col = st.columns(2, gap="large")
with table_col:
    st.dataframe(figs.stats_frame(stats).style.format("{:.4f}"), key=P + "stats")
    st.caption("Normalize is (x − m) / s, a shift and a stretch: with the data's own m and s the pixels get mean 0 "
               "and std 1, which keeps the first layer's inputs on the scale its random weights expect.")
with code_col:
    st.code("""train = datasets.MNIST("data", train=True, download=True)
x = train.data.float() / 255  # [60000, 28, 28]
x.mean(), x.std()  # 0.1307, 0.3081""", language="python")

options_col, _ = st.columns([1, 2])
with options_col:
    bins = st.select_slider("Histogram bins", [8, 16, 32, 64, 128, 256], value=32, key=P + "bins")
    log_y = st.toggle("Log scale for the counts", value=True, key=P + "log_y",
                      help=f"{stats.zero_fraction:.0%} of the pixels are 0: on a linear scale that one bar "
                           "hides all the others.")
before = transforms.pixel_histogram(stats.byte_counts, bins)
after = transforms.normalized_histogram(before)
st.plotly_chart(figs.histograms_figure(before, after, stats, log_y), key=P + "histograms",
                config={"displayModeBar": False})
st.caption("The same pixels, the same counts: Normalize only moves and rescales the axis. Red line: the mean; "
           "shaded: one standard deviation either side.")
