"""The MNIST data lab: the images by digit, one image through the lecture's transform, and where
Normalize's 0.1307 and 0.3081 come from."""

import streamlit as st

from core import transforms
from core.data import MNIST_MEAN, MNIST_STD
from playground import charts, fmt, nav, tables, widgets
from playground.figures import data as figs
from playground.i18n import plain, t
from playground.room import get_room
from playground.status import source_line

page = nav.setup("data")
room = get_room()

P = "data."  # widget keys
PER_PAGE = 32
COLS = 8
DIGITS = [figs.ALL_DIGITS, *range(10)]
VALUE_VIEWS = {  # what the pixel heatmap writes on each pixel: step index, decimals, colour range
    "bytes": (0, 0, (0.0, 255.0)),
    "tensor": (1, 2, (0.0, 1.0)),
    "normalized": (2, 2, ((0 - MNIST_MEAN) / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD)),
}

st.title(t("data.title"))
st.caption(t("data.caption"))

mnist = nav.mnist_or_stop(room)

n_train = len(mnist.train_labels)
(st.warning if mnist.is_subset else st.info)(source_line(mnist), icon="🗂️")


@st.cache_data(show_spinner=False, max_entries=4)
def training_pixel_stats(source: str, n_images: int) -> transforms.PixelStats:
    """One pass over every training pixel, once per dataset (the arguments say which one)."""
    return transforms.pixel_stats(room.mnist().train_images)


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


st.header(t("data.by_digit"))
grid_col, counts_col = st.columns([3, 2], gap="large")
labels = mnist.train_labels.numpy()
with counts_col:
    digit = st.selectbox(
        plain("data.digit"),
        DIGITS,
        key=widgets.worded(P + "digit"),
        on_change=back_to_first_page,
        format_func=lambda d: plain("data.all_digits") if d == figs.ALL_DIGITS else plain("data.only_digit", digit=d),
    )
    train_counts = mnist.train_labels.bincount(minlength=10).tolist()
    test_counts = mnist.test_labels.bincount(minlength=10).tolist()
    charts.plotly(
        figs.class_counts_figure(train_counts, test_counts, digit), key=P + "counts", config={"displayModeBar": False}
    )
    st.caption(figs.counts_sentence(train_counts))

with grid_col:
    pages = figs.grid_page(labels, digit, 1, PER_PAGE).pages
    if not 1 <= st.session_state.get(P + "page", 1) <= pages:
        back_to_first_page()
    back, number, forward = st.columns([1, 1.2, 1], vertical_alignment="bottom")
    back.button(t("data.previous"), key=P + "prev", on_click=turn_page, args=(-1, pages), width="stretch")
    page_number = number.number_input(plain("data.page_of", pages=pages), 1, pages, step=1, key=P + "page")
    forward.button(t("data.next"), key=P + "next", on_click=turn_page, args=(1, pages), width="stretch")
    grid = figs.grid_page(labels, digit, page_number, PER_PAGE)
    which = (
        t("data.which_all", count=fmt.count(grid.matching))
        if digit == figs.ALL_DIGITS
        else t("data.which_digit", count=fmt.count(grid.matching), digit=digit)
    )
    st.caption(
        t(
            "data.grid_caption",
            first=fmt.count(grid.first),
            last=fmt.count(grid.last),
            which=which,
            indices=", ".join(str(i) for i in grid.indices),
        )
    )
    open_clicked_image(st.session_state.get(P + "grid"))  # before drawing, so the grid marks the new pick
    charts.plotly(
        figs.image_grid_figure(
            mnist.train_images[grid.indices].numpy(),
            grid.indices,
            labels[grid.indices],
            cols=COLS,
            picked=st.session_state.get(P + "index", 0),
        ),
        key=P + "grid",
        on_select="rerun",
        selection_mode="points",
        config={"displayModeBar": False},
    )


# ---- one image, step by step ----------------------------------------------------------------

st.header(t("data.one_image"))
if not 0 <= st.session_state.get(P + "index", 0) < n_train:  # kept from a larger dataset: start again
    st.session_state[P + "index"] = 0
index_col, view_col = st.columns([1, 2], vertical_alignment="bottom")
index = int(
    index_col.number_input(plain("data.index"), 0, n_train - 1, step=1, key=P + "index", help=plain("data.index_help"))
)
view = view_col.radio(
    plain("data.values_on_pixels"),
    list(VALUE_VIEWS),
    key=widgets.worded(P + "values"),
    horizontal=True,
    format_func=lambda v: plain(f"data.view.{v}"),
)
image = mnist.train_images[index].numpy()  # [28, 28] uint8
steps = transforms.lecture_transform_steps(image)
st.markdown(t("data.image_line", index=index, label=int(labels[index])))
step_index, decimals, (zmin, zmax) = VALUE_VIEWS[view]
charts.plotly(
    figs.pixel_values_figure(steps[step_index].values, zmin, zmax, decimals),
    key=P + "pixels",
    config={"displayModeBar": False},
)

st.subheader(t("data.transform_steps"))
tables.show(
    figs.steps_frame(steps),
    {plain("data.col.min"): ".4f", plain("data.col.max"): ".4f", plain("data.col.mean"): ".4f"},
    key="data-steps",
)
explain_col, code_col = st.columns([1.2, 1], gap="large")
with explain_col:
    st.markdown(
        t(
            "data.transform_explained",
            background=fmt.number(-MNIST_MEAN / MNIST_STD),
            ink=fmt.number((1 - MNIST_MEAN) / MNIST_STD),
        )
    )
with code_col:
    st.code(
        f"""transform = transforms.Compose([
    transforms.ToTensor(),  # [1, 28, 28] in [0, 1]
    transforms.Normalize((0.1307,), (0.3081,)),
])
train = datasets.MNIST("data", train=True,
                       download=True, transform=transform)
x, y = train[{index}]  # y = {int(labels[index])}
x.view(-1, 784).shape  # torch.Size([1, 784])""",
        language="python",
        wrap_lines=True,
    )

st.markdown(t("data.vector_title"))
charts.plotly(figs.flat_vector_figure(steps[-1].values), key=P + "vector", config={"displayModeBar": False})
st.caption(t("data.vector_caption"))


# ---- where 0.1307 and 0.3081 come from -----------------------------------------------------

st.header(t("data.where_title"))
stats = training_pixel_stats(mnist.source, n_train)
st.markdown(t("data.where_intro", images=fmt.count(stats.n_images), pixels=fmt.count(stats.n_pixels)))
mean_col, std_col, zero_col = st.columns(3)
mean_col.metric(
    plain("data.metric_mean"),
    fmt.number(stats.mean),
    delta_color="off",
    delta_arrow="off",
    delta=plain("data.from_lecture", difference=fmt.number(stats.mean - MNIST_MEAN, "+.5f"), value=MNIST_MEAN),
)
std_col.metric(
    plain("data.metric_std"),
    fmt.number(stats.std),
    delta_color="off",
    delta_arrow="off",
    delta=plain("data.from_lecture", difference=fmt.number(stats.std - MNIST_STD, "+.5f"), value=MNIST_STD),
)
zero_col.metric(plain("data.metric_zero"), fmt.percent(stats.zero_fraction, 1))
matches = round(stats.mean, 4) == MNIST_MEAN and round(stats.std, 4) == MNIST_STD
if mnist.is_subset:
    st.info(t("data.stats_subset", images=fmt.count(stats.n_images), mean=MNIST_MEAN, std=MNIST_STD), icon="🗂️")
elif matches:
    st.success(t("data.stats_match", mean=MNIST_MEAN, std=MNIST_STD), icon="✅")
else:
    st.warning(t("data.stats_differ", mean=MNIST_MEAN, std=MNIST_STD), icon="⚠️")

table_col, code_col = st.columns([3, 2], gap="large")  # the table needs ~490 px at 1366 px
with table_col:
    frame = figs.stats_frame(stats)
    tables.show(frame, {column: ".4f" for column in frame.columns[1:]}, key="data-stats")
    st.caption(t("data.stats_caption"))
with code_col:
    st.code(
        """train = datasets.MNIST("data", train=True, download=True)
x = train.data.float() / 255  # [60000, 28, 28]
x.mean(), x.std()  # 0.1307, 0.3081""",
        language="python",
        wrap_lines=True,
    )

options_col, _ = st.columns([1, 2])
with options_col:
    bins = st.select_slider(plain("data.bins"), [8, 16, 32, 64, 128, 256], value=32, key=P + "bins")
    log_y = st.toggle(
        plain("data.log_counts"),
        value=True,
        key=P + "log_y",
        help=plain("data.log_counts_help", percent=fmt.percent(stats.zero_fraction, 0)),
    )
before = transforms.pixel_histogram(stats.byte_counts, bins)
after = transforms.normalized_histogram(before)
charts.plotly(
    figs.histograms_figure(before, after, stats, log_y), key=P + "histograms", config={"displayModeBar": False}
)
st.caption(t("data.hist_caption"))
