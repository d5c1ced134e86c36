"""Hypothesis strategies: geometric op configs, image sizes and geometry inside an image."""

import numpy as np
from hypothesis import strategies as st

INDEX_OPS = ("hflip", "vflip", "rot90", "crop", "center_crop", "pad", "pad_to_multiple")
ALL_GEOMETRIC = INDEX_OPS + ("rotate", "affine", "perspective", "resize", "smart_resize", "random_crop")


@st.composite
def geometric_op(draw, names=ALL_GEOMETRIC):
    name = draw(st.sampled_from(names))
    i = lambda lo, hi: draw(st.integers(lo, hi))  # noqa: E731
    f = lambda lo, hi: draw(st.floats(lo, hi, allow_nan=False))  # noqa: E731
    if name in ("hflip", "vflip"):
        p = {}
    elif name == "rot90":
        p = {"k": i(0, 3)}
    elif name == "rotate":
        p = {"max_deg": f(0, 45), "expand": draw(st.booleans())}
    elif name == "affine":
        lo = f(0.6, 1.4)
        p = {"scale": [lo, lo + f(0, 0.3)], "translate": [-0.1, 0.1], "shear": f(0, 15), "rotate": f(0, 30)}
    elif name == "perspective":
        p = {"scale": [0.0, f(0.0, 0.08)]}
    elif name == "resize":
        mode = draw(st.sampled_from(["wh", "longest", "shortest"]))
        p = {"width": i(24, 120), "height": i(24, 120)} if mode == "wh" else {mode: i(24, 120)}
    elif name == "smart_resize":
        p = {"factor": draw(st.sampled_from([8, 16, 32])), "min_pixels": 1024, "max_pixels": i(2048, 16384)}
    elif name == "crop":
        p = {"x": i(0, 20), "y": i(0, 20), "width": i(8, 80), "height": i(8, 80)}
    elif name == "center_crop":
        p = {"width": i(8, 100), "height": i(8, 100)}
    elif name == "random_crop":
        p = {"scale": [f(0.4, 0.8), 1.0]}
    elif name == "pad":
        p = {k: i(0, 12) for k in ("top", "bottom", "left", "right")}
    else:
        p = {"multiple": i(2, 32)}
    return {"name": name, "params": p}


@st.composite
def quads_in(draw, w, h, n_max=4, n_min=0):
    """Rotated rectangles well inside a w x h image, clockwise from top-left."""
    n = draw(st.integers(n_min, n_max))
    out = []
    for _ in range(n):
        cx = draw(st.floats(0.3 * w, 0.7 * w))
        cy = draw(st.floats(0.3 * h, 0.7 * h))
        hw = draw(st.floats(1.0, 0.25 * w))
        hh = draw(st.floats(1.0, 0.25 * h))
        t = np.deg2rad(draw(st.floats(-30, 30)))
        c, s = np.cos(t), np.sin(t)
        corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
        out.append(corners @ np.array([[c, s], [-s, c]]) + [cx, cy])
    return np.array(out).reshape(-1, 4, 2)


@st.composite
def boxes_in(draw, w, h, n_max=4):
    n = draw(st.integers(0, n_max))
    out = []
    for _ in range(n):
        x1 = draw(st.floats(0, w - 1))
        y1 = draw(st.floats(0, h - 1))
        out.append([x1, y1, draw(st.floats(x1 + 0.5, w)), draw(st.floats(y1 + 0.5, h))])
    return np.array(out).reshape(-1, 4)


@st.composite
def lines_in(draw, w, h, n_max=3):
    n = draw(st.integers(0, n_max))
    return [
        np.array([[draw(st.floats(0, w)), draw(st.floats(0, h))] for _ in range(draw(st.integers(2, 5)))])
        for _ in range(n)
    ]
