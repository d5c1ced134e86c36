"""geoaug.io.to_rgb8 and probe_image: every PIL mode reaches RGB uint8 correctly (16-bit and float stretched
over their range, alpha composited), and truncated files are caught from their tail without decoding."""

import numpy as np
import pytest
from PIL import Image, ImageFile

from geoaug.errors import ImageError
from geoaug.interop.source_items import load_image_rgb
from geoaug.io import ImageInfo, ImageSource, probe_image, to_rgb8
from geoaug.preview import load_image


def _save(tmp_path, name, im, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


def _load(path, **kw):
    with Image.open(path) as im:
        return to_rgb8(im, **kw)


def _check_out(out, h, w):
    assert out.shape == (h, w, 3) and out.dtype == np.uint8 and out.flags.c_contiguous


def _rgba(h=4, w=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 4), dtype=np.uint8)


# ------------------------------------------------------------------------------------------ range scaling


def test_png_i16_spans_full_range_not_white(tmp_path):
    data = np.linspace(0, 4000, 40 * 50).round().astype(np.uint16).reshape(40, 50)
    path = _save(tmp_path, "i16.png", Image.fromarray(data))
    with Image.open(path) as im:
        assert im.mode == "I;16"
        assert np.asarray(im.convert("RGB")).mean() > 200  # PIL's own convert clips to white
    out = _load(path)
    _check_out(out, 40, 50)
    assert out.min() == 0 and out.max() == 255
    np.testing.assert_array_equal(out[..., 0], np.rint(data / 4000.0 * 255).astype(np.uint8))
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all()


def test_float_tiff_maps_min_to_0_and_max_to_255(tmp_path):
    data = np.linspace(-1, 3, 10 * 12, dtype=np.float32).reshape(10, 12)
    path = _save(tmp_path, "f.tif", Image.fromarray(data))
    with Image.open(path) as im:
        assert im.mode == "F"
    out = _load(path)
    _check_out(out, 10, 12)
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    np.testing.assert_array_equal(out[..., 1], np.rint((data.astype(np.float64) + 1) / 4 * 255).astype(np.uint8))


def test_16bit_tiff_uses_its_own_range(tmp_path):
    data = np.array([[1000, 2000], [3000, 60000]], dtype=np.uint16)
    path = _save(tmp_path, "i16.tif", Image.fromarray(data))
    out = _load(path)
    _check_out(out, 2, 2)
    expect = np.rint((data - 1000.0) / 59000.0 * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 2], expect)


def test_float_nan_inf_and_constant_images():
    a = np.array([[np.nan, -np.inf, 0.0], [1.0, 2.0, np.inf]], dtype=np.float32)
    out = to_rgb8(Image.fromarray(a))
    np.testing.assert_array_equal(out[..., 0], [[0, 0, 0], [128, 255, 255]])
    assert (to_rgb8(Image.fromarray(np.zeros((2, 3), np.float32))) == 0).all()
    assert (to_rgb8(Image.fromarray(np.full((2, 3), 7, np.uint16))) == 255).all()
    assert (to_rgb8(Image.fromarray(np.full((2, 3), np.nan, np.float32))) == 0).all()


def test_int32_and_big_endian_16bit_modes():
    i32 = Image.fromarray(np.array([[-5, 0, 5]], dtype=np.int32))
    assert i32.mode == "I"
    np.testing.assert_array_equal(to_rgb8(i32)[0, :, 0], [0, 128, 255])
    be = Image.new("I;16B", (3, 1))
    be.putdata([0, 1000, 60000])
    np.testing.assert_array_equal(to_rgb8(be)[0, :, 0], np.rint(np.array([0, 1000, 60000]) / 60000 * 255))


# ------------------------------------------------------------------------------------------ alpha


def test_rgba_png_over_white_and_given_background(tmp_path):
    px = np.array([[[200, 100, 0, 128], [10, 20, 30, 0], [10, 20, 30, 255], [255, 0, 0, 64]]], dtype=np.uint8)
    path = _save(tmp_path, "rgba.png", Image.fromarray(px, "RGBA"))
    out = _load(path)
    _check_out(out, 1, 4)
    # round(a*c + (1-a)*bg), a = 128/255: 200 -> 227.39, 100 -> 177.20, 0 -> 127.00; a = 64/255: 0 -> 191
    np.testing.assert_array_equal(out[0], [[227, 177, 127], [255, 255, 255], [10, 20, 30], [255, 191, 191]])
    out = _load(path, background=(0, 50, 100))
    np.testing.assert_array_equal(out[0, 0], [100, 75, 50])
    np.testing.assert_array_equal(out[0, 1], [0, 50, 100])
    # brute force against the float formula over random pixels
    rgba = _rgba()
    a = rgba[..., 3:] / 255.0
    expect = np.rint(a * rgba[..., :3] + (1 - a) * np.array([30, 60, 90])).astype(np.uint8)
    np.testing.assert_array_equal(to_rgb8(Image.fromarray(rgba, "RGBA"), background=(30, 60, 90)), expect)


def test_la_png_over_white_and_given_background(tmp_path):
    la = np.array([[[0, 128], [100, 255], [100, 0], [255, 64]]], dtype=np.uint8)
    path = _save(tmp_path, "la.png", Image.fromarray(la, "LA"))
    with Image.open(path) as im:
        assert im.mode == "LA"
    out = _load(path)
    np.testing.assert_array_equal(out[0, :, 0], [127, 100, 255, 255])
    assert (out == out[..., :1]).all()
    out = _load(path, background=(0, 0, 200))
    np.testing.assert_array_equal(out[0, 0], [0, 0, 100])  # 0.502 * 0 + 0.498 * 200 = 99.6


def test_premultiplied_modes():
    rgba = _rgba(seed=1)
    a = rgba[..., 3:].astype(np.int32)
    pre = Image.fromarray(rgba, "RGBA").convert("RGBa")
    expect = np.rint(np.asarray(pre)[..., :3] + (1 - a / 255.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(to_rgb8(pre), expect)
    la = Image.fromarray(np.dstack([rgba[..., 0], rgba[..., 3]]), "LA").convert("La")
    expect = np.rint(np.asarray(la)[..., :1] + (1 - a / 255.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(to_rgb8(la), np.repeat(expect, 3, axis=2))


def test_palette_png_with_and_without_transparent_index(tmp_path):
    idx = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (3 * 253)

    def pal():
        im = Image.fromarray(idx, "P")
        im.putpalette(palette)
        return im

    plain = _save(tmp_path, "p.png", pal())
    out = _load(plain)
    with Image.open(plain) as im:
        assert im.mode == "P" and "transparency" not in im.info
        np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))
    np.testing.assert_array_equal(out[0], [[255, 0, 0], [0, 255, 0], [0, 0, 255]])

    clear = _save(tmp_path, "pt.png", pal(), transparency=1)
    with Image.open(clear) as im:
        assert im.mode == "P" and "transparency" in im.info
    out = _load(clear)
    np.testing.assert_array_equal(out[0], [[255, 0, 0], [255, 255, 255], [0, 0, 255]])
    np.testing.assert_array_equal(_load(clear, background=(9, 9, 9))[1, 1], [9, 9, 9])


def test_grey_and_rgb_with_transparency_entry(tmp_path):
    grey = Image.fromarray(np.array([[0, 200]], dtype=np.uint8))
    path = _save(tmp_path, "lt.png", grey, transparency=200)
    np.testing.assert_array_equal(_load(path, background=(1, 2, 3))[0], [[0, 0, 0], [1, 2, 3]])
    rgb = Image.fromarray(np.array([[[0, 0, 0], [5, 6, 7]]], dtype=np.uint8))
    path = _save(tmp_path, "rgbt.png", rgb, transparency=(5, 6, 7))
    np.testing.assert_array_equal(_load(path)[0], [[0, 0, 0], [255, 255, 255]])


# ------------------------------------------------------------------------------------------ PIL-converted modes


def test_cmyk_jpeg_matches_pil_convert(tmp_path):
    rgb = _rgba(32, 40, seed=2)[..., :3]
    path = _save(tmp_path, "cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), quality=95)
    with Image.open(path) as im:
        assert im.mode == "CMYK"
        ref = np.asarray(im.convert("RGB"))
    out = _load(path)
    _check_out(out, 32, 40)
    np.testing.assert_array_equal(out, ref)
    assert np.abs(out.astype(int) - rgb).mean() < 12  # JPEG tolerance vs the source


@pytest.mark.parametrize("mode", ["L", "1", "YCbCr", "HSV", "LAB", "CMYK", "P"])
def test_other_modes_go_through_pil(mode):
    im = Image.fromarray(_rgba(seed=3)[..., :3]).convert(mode)
    out = to_rgb8(im)
    _check_out(out, 4, 6)
    np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))


def test_rgb_png_is_exactly_np_asarray(tmp_path):
    rgb = _rgba(seed=4)[..., :3]
    path = _save(tmp_path, "rgb.png", Image.fromarray(rgb))
    with Image.open(path) as im:
        out = to_rgb8(im)
        np.testing.assert_array_equal(out, np.asarray(im))
    _check_out(out, 4, 6)
    np.testing.assert_array_equal(out, rgb)


# ------------------------------------------------------------------------------------------ loaders agree


def _files(tmp_path):
    rgba = _rgba(8, 10, seed=5)
    p = Image.fromarray(rgba[..., 0] % 4, "P")
    p.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9] + [0] * (3 * 252))
    return [
        _save(tmp_path, "i16.png", Image.fromarray(rgba[..., 0].astype(np.uint16) * 16)),
        _save(tmp_path, "f.tif", Image.fromarray(rgba[..., 1].astype(np.float32) / 7 - 3)),
        _save(tmp_path, "i16.tif", Image.fromarray(rgba[..., 2].astype(np.uint16) * 200)),
        _save(tmp_path, "p.png", p),
        _save(tmp_path, "pt.png", p, transparency=2),
        _save(tmp_path, "la.png", Image.fromarray(rgba[..., 1:3].copy(), "LA")),
        _save(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA")),
        _save(tmp_path, "cmyk.jpg", Image.fromarray(rgba[..., :3].copy()).convert("CMYK")),
        _save(tmp_path, "rgb.png", Image.fromarray(rgba[..., :3].copy())),
        _save(tmp_path, "rgb.jpg", Image.fromarray(rgba[..., :3].copy())),
    ]


def test_every_loader_equals_to_rgb8(tmp_path):
    for path in _files(tmp_path):
        ref = _load(path)
        with ImageSource(path) as src:
            dec = src.decode()
        assert dec.scale == 1.0 and dec.original_size == (10, 8)
        np.testing.assert_array_equal(dec.image, ref, err_msg=path.name)
        np.testing.assert_array_equal(load_image(path), ref, err_msg=path.name)
        np.testing.assert_array_equal(load_image_rgb(path), ref, err_msg=path.name)
    rgba = tmp_path / "rgba.png"
    with ImageSource(rgba, background=(0, 0, 0)) as src:
        np.testing.assert_array_equal(src.decode().image, _load(rgba, background=(0, 0, 0)))


def test_reduced_decode_of_cmyk_jpeg(tmp_path):
    rgb = _rgba(64, 80, seed=6)[..., :3]
    path = _save(tmp_path, "cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    with ImageSource(path) as src:
        dec = src.decode(min_scale=0.25)
    assert dec.scale == 0.25 and dec.original_size == (80, 64)
    _check_out(dec.image, 16, 20)


def test_decode_error_names_record_and_file(tmp_path):
    path = tmp_path / "half.png"
    full = _save(tmp_path, "full.png", Image.fromarray(_rgba(64, 64, seed=7)))
    path.write_bytes(full.read_bytes()[:300])
    with ImageSource(path, record="train.jsonl:3") as src:
        with pytest.raises(ImageError, match=r"train\.jsonl:3: .*half\.png"):
            src.decode()


# ------------------------------------------------------------------------------------------ probe_image


def _jpeg_and_png(tmp_path):
    rgb = _rgba(48, 64, seed=8)[..., :3]
    return (
        _save(tmp_path, "good.jpg", Image.fromarray(rgb), quality=90),
        _save(tmp_path, "good.png", Image.fromarray(rgb)),
    )


def test_probe_good_files(tmp_path):
    jpg, png = _jpeg_and_png(tmp_path)
    assert probe_image(jpg) == ImageInfo("JPEG", 64, 48, "RGB")
    assert probe_image(png, decode=True) == ImageInfo("PNG", 64, 48, "RGB")
    assert probe_image(jpg, decode=True).format == "JPEG"
    i16 = _save(tmp_path, "i16.png", Image.fromarray(np.zeros((3, 5), np.uint16)))
    assert probe_image(i16) == ImageInfo("PNG", 5, 3, "I;16")
    padded = tmp_path / "padded.jpg"  # NUL padding after EOI is tolerated
    padded.write_bytes(jpg.read_bytes() + b"\0" * 100)
    assert probe_image(padded).format == "JPEG"


def test_probe_truncated_without_decoding(tmp_path, monkeypatch):
    jpg, png = _jpeg_and_png(tmp_path)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("probe decoded pixels"))
    for path, what in ((jpg, "no JPEG end marker"), (png, "no PNG IEND chunk")):
        data = path.read_bytes()
        half = tmp_path / f"half{path.suffix}"
        half.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageError, match=f"truncated \\({what}\\)") as e:
            probe_image(half)
        assert str(half) in str(e.value)
        zeroed = tmp_path / f"zeroed{path.suffix}"  # a preallocated, half-written download
        zeroed.write_bytes(data[: len(data) // 2] + b"\0" * (len(data) - len(data) // 2))
        with pytest.raises(ImageError, match="truncated"):
            probe_image(zeroed)


def test_probe_unreadable_and_missing(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(ImageError, match="cannot read image .*junk.jpg"):
        probe_image(junk)
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageError, match="not found.*missing.png"):
        probe_image(missing)
    with pytest.raises(ImageError, match="cannot read image"):
        probe_image(tmp_path)


def _flip_middle(src, dst, n):
    """A copy of ``src`` with ``n`` bytes in the middle inverted: header and end marker intact."""
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid : mid + n] = bytes(b ^ 0xFF for b in data[mid : mid + n])
    dst.write_bytes(bytes(data))
    return dst


def test_probe_decode_reports_decoder_errors(tmp_path):
    jpg, png = _jpeg_and_png(tmp_path)
    # A PNG whose IDAT is damaged but whose IEND is intact: only decoding finds it.
    bad = _flip_middle(png, tmp_path / "bad.png", 64)
    assert probe_image(bad).format == "PNG"
    with pytest.raises(ImageError, match="cannot decode image"):
        probe_image(bad, decode=True)


def test_probe_decode_corrupt_middle_jpeg_is_not_always_caught(tmp_path):
    """libjpeg decodes flipped entropy-coded bytes as garbage pixels without an error (checked with Pillow
    13), so ``decode=True`` cannot promise to catch a corrupt-middle JPEG whose end marker is intact."""
    jpg, _ = _jpeg_and_png(tmp_path)
    bad = _flip_middle(jpg, tmp_path / "bad.jpg", 50)
    assert probe_image(bad) == ImageInfo("JPEG", 64, 48, "RGB")
    try:
        probe_image(bad, decode=True)
    except ImageError as e:  # allowed, not required
        assert "cannot decode image" in str(e)
