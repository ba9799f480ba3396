import pytest
import torch

from app.digit_fit import NoInkError, _label, fit_digit


def page(height: int = 280, width: int = 280, paper: float = 235.0) -> torch.Tensor:
    return torch.full((height, width), paper)


def ink(image: torch.Tensor, *boxes: tuple[int, int, int, int], level: float = 30.0) -> torch.Tensor:
    """Dark ink (``level``) inside each (x0, y0, x1, y1)."""
    image = image.clone()
    for x0, y0, x1, y1 in boxes:
        image[y0:y1, x0:x1] = level
    return image


def bounding_box_size(pixels: torch.Tensor) -> tuple[int, int]:
    rows, cols = pixels.sum(dim=1).nonzero(), pixels.sum(dim=0).nonzero()
    return int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def centre_of_mass(pixels: torch.Tensor) -> tuple[float, float]:
    """(x, y) in pixel-index coordinates, where MNIST's digits have theirs at about (14, 14)."""
    weights = pixels.double()
    index = torch.arange(pixels.shape[0], dtype=torch.float64)
    return float((weights.sum(0) * index).sum() / weights.sum()), float(
        (weights.sum(1) * index).sum() / weights.sum()
    )


def test_fit_digit_box_fills_20_and_centres_by_mass():
    pixels = fit_digit(ink(page(), (90, 115, 190, 165)))  # 100x50
    assert pixels.dtype == torch.uint8
    assert bounding_box_size(pixels) == (20, 10)
    x, y = centre_of_mass(pixels)
    assert abs(x - 14) <= 0.5
    assert abs(y - 14) <= 0.5
    assert pixels.max() == 255


def test_fit_digit_position_on_the_page_does_not_matter():
    corner = fit_digit(ink(page(), (10, 10, 110, 60)))
    assert torch.equal(corner, fit_digit(ink(page(), (150, 200, 250, 250))))


def test_fit_digit_either_polarity_gives_white_ink_on_black():
    dark_on_light = ink(page(), (100, 60, 130, 220), (100, 60, 200, 90))
    assert torch.equal(fit_digit(255 - dark_on_light), fit_digit(dark_on_light))


def test_fit_digit_forced_polarity_matches_auto():
    dark_on_light = ink(page(), (100, 60, 130, 220), (100, 60, 200, 90))
    assert torch.equal(fit_digit(dark_on_light, "dark"), fit_digit(dark_on_light))
    assert torch.equal(fit_digit(255 - dark_on_light, "light"), fit_digit(dark_on_light))


def test_fit_digit_removes_uneven_light():
    shape = ((100, 60, 130, 220), (100, 60, 200, 90))
    gradient = torch.linspace(0.5, 1.0, 280)[None, :] * torch.linspace(0.7, 1.0, 280)[:, None]
    even = fit_digit(ink(page(), *shape))
    uneven = fit_digit(ink(page(), *shape) * gradient)
    assert (uneven.int() - even.int()).abs().max() <= 40  # the same glyph, its edges shaded a little
    assert bounding_box_size(uneven) == bounding_box_size(even)


def test_fit_digit_ignores_specks():
    shape = ((100, 60, 130, 220), (100, 60, 200, 90))
    specks = ((5, 5, 8, 8), (260, 270, 262, 272), (20, 250, 23, 252))
    assert torch.equal(fit_digit(ink(page(), *shape, *specks)), fit_digit(ink(page(), *shape)))


def test_fit_digit_keeps_aspect_with_grey_edges():
    pixels = fit_digit(ink(page(300, 200), (13, 40, 16, 117), (13, 114, 46, 117)))  # an "L", 33x77
    assert bounding_box_size(pixels) == (9, 20)
    assert 0 < pixels[pixels < 255].max() < 255  # anti-aliased, not thresholded


@pytest.mark.parametrize(
    "blank", [page(), page() + torch.randn(280, 280, generator=torch.Generator().manual_seed(0)) * 4]
)
def test_fit_digit_blank_page_has_no_ink(blank):
    with pytest.raises(NoInkError, match="no ink"):
        fit_digit(blank)


def test_label_a_winding_stroke_is_one_blob_and_apart_strokes_are_two():
    mask = torch.zeros(40, 40, dtype=torch.bool)
    y, x, length, steps = 0, 0, 39, ((0, 1), (1, 0), (0, -1), (-1, 0))
    for turn in range(36):  # a square spiral, a pixel of gap between its rings: one long, winding path
        dy, dx = steps[turn % 4]
        for _ in range(length):
            mask[y, x] = True
            y, x = y + dy, x + dx
        length -= 2 if turn % 2 and turn > 0 else 0
    assert int(_label(mask).max()) == 1
    apart = torch.zeros(20, 20, dtype=torch.bool)
    apart[2:18, 2], apart[2:18, 10], apart[18, 18] = True, True, True
    labels = _label(apart)
    assert int(labels.max()) == 3
    assert labels[2, 2] == labels[17, 2] != labels[2, 10] == labels[17, 10] != labels[18, 18]
