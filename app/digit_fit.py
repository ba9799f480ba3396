"""A photo, scan or drawing of one digit -> a 28x28 image made the way MNIST's digits were made.

MNIST's makers took scanned binary digits, fitted each one's bounding box into 20x20 with anti-aliasing
(aspect ratio kept), and centred the result by its centre of mass in a 28x28 field. Real captures add what
their scans did not have: grey or uneven paper, either polarity, blur, noise and specks. So, in order:

1. polarity: which way the ink departs from a local, polarity-neutral background estimate;
2. background: the paper under uneven light, estimated locally (a low percentile per block, the lowest
   of each 3x3 neighbourhood of blocks, smoothly interpolated) and subtracted; then the noise floor;
3. contrast: the strong ink stretched to full scale, as MNIST's strokes are;
4. the ink's bounding box, ignoring specks (connected blobs much smaller than the largest);
5. fitted into 20x20 by area averaging, placed so its centre of mass lies at the centre of 28x28.

Input: 8-bit luminance as a float tensor [H, W] (0 black .. 255 white). Pure torch, no framework types.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Ink = Literal["auto", "dark", "light"]

FIELD = 28  # MNIST's image side
BOX = 20  # the side its digits' bounding boxes were fitted into
BLOCKS = 16  # background blocks across the shorter side
NOISE_SIGMAS = 3.0  # ink must stand this many noise deviations above the paper
MIN_CONTRAST = 24.0  # of 255: weaker than this, nothing stands out from the paper (no ink)
INK_LEVEL = 0.3  # of full scale: pixels above this count as ink for the bounding box
SPECK_FRACTION = 0.05  # a blob with less ink than this share of the largest one is a speck
LABEL_SIDE = 96  # specks are found on the ink mask pooled down to at most this side
PEAK_RANK = 50  # a digit has far more inked pixels than this; a hot pixel or a speck far fewer
POLARITY_SIDE = 192
POLARITY_TAIL = 0.0005  # the extremes that decide polarity: a digit on a page covers more than this


class NoInkError(ValueError):
    """Nothing in the image stands out from its background."""


def fit_digit(luminance: torch.Tensor, ink: Ink = "auto") -> torch.Tensor:
    """luminance float32 [H, W], 0..255 -> uint8 [28, 28], the digit white (255) on black (0)."""
    strength = _ink_strength(luminance, ink)
    glyph = _drop_specks(strength)  # cropped: erasing the specks leaves nothing but paper around it
    return _fit_and_centre(glyph)


def _ink_strength(luminance: torch.Tensor, ink: Ink) -> torch.Tensor:
    """How much ink each pixel holds, 0..1, with paper, uneven light and noise removed."""
    block = max(1, min(luminance.shape) // BLOCKS)
    if ink == "auto":
        ink = _polarity(luminance)
    # From here ink is bright on dark paper, whichever it was.
    raised = 255.0 - luminance if ink == "dark" else luminance
    paper = _background(raised, block, quantile=0.2, spread="min")
    strength = (raised - paper).clamp_min(0)
    paper_level = _sample(strength).median()
    floor = paper_level + NOISE_SIGMAS * _noise_sigma(strength - paper_level)
    strength = (strength - floor).clamp_min(0)
    peak = _peak(strength)
    if peak < MIN_CONTRAST:
        raise NoInkError("no ink: nothing in the image stands out from its background")
    return (strength / peak).clamp_(max=1.0)


def _polarity(luminance: torch.Tensor) -> Ink:
    """Which way the ink departs from the paper: against a coarse, polarity-neutral paper estimate (medians
    of quarter-frame blocks, so that uneven light cancels), the ink is the side with the farther extreme.
    Judged on the image averaged down to at most POLARITY_SIDE on a side: strokes survive that, and it is
    a sixth of the work."""
    shrink = max(1, -(-max(luminance.shape) // POLARITY_SIDE))
    small = F.avg_pool2d(luminance[None, None], shrink, ceil_mode=True)[0, 0] if shrink > 1 else luminance
    coarse = _background(small, max(1, min(small.shape) // 4), quantile=0.5, spread="median")
    residual = _sample(small - coarse, 65536)
    low, high = residual.quantile(torch.tensor([POLARITY_TAIL, 1 - POLARITY_TAIL]))  # one sort for both
    return "dark" if -low >= high else "light"


def _background(image: torch.Tensor, block: int, *, quantile: float, spread: str) -> torch.Tensor:
    """The paper's level at every pixel: a per-block statistic, spread over neighbouring blocks, upsampled.

    The statistic is taken on the image averaged down to at most 8x8 samples per block: the paper's level
    survives the averaging, and sorting 64 values per block instead of hundreds is what keeps this cheap.
    """
    height, width = image.shape
    rows, cols = max(1, height // block), max(1, width // block)
    shrink = max(1, block // 8)
    small = F.avg_pool2d(image[None, None], shrink)[0, 0] if shrink > 1 else image
    block //= shrink
    cropped = small[: rows * block, : cols * block]
    cells = cropped.reshape(rows, block, cols, block).permute(0, 2, 1, 3).reshape(rows, cols, -1)
    level = cells.quantile(quantile, dim=-1) if cells.shape[-1] > 1 else cells[..., 0]
    grid = level[None, None]
    if spread == "min":  # a block wholly inside a thick stroke takes its neighbours' paper
        grid = -F.max_pool2d(-grid, 3, stride=1, padding=1)
    else:  # median of the 3x3 neighbourhood, each side padded with its edge
        padded = F.pad(grid, (1, 1, 1, 1), mode="replicate")
        grid = F.unfold(padded, 3).median(dim=1).values.reshape(1, 1, rows, cols)
    return F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)[0, 0]


def _noise_sigma(residual: torch.Tensor) -> torch.Tensor:
    """The paper's noise as a standard deviation, from the median absolute deviation (ink barely moves it)."""
    sample = _sample(residual)
    centre = sample.median()
    return 1.4826 * (sample - centre).abs().median() + 0.5


def _sample(values: torch.Tensor, most: int = 16384) -> torch.Tensor:
    """At most ``most`` of the values, evenly strided: order statistics of a sample cost a fraction."""
    flat = values.flatten()
    return flat if flat.numel() <= most else flat[:: flat.numel() // most + 1]


def _peak(strength: torch.Tensor) -> torch.Tensor:
    """The ink's full strength: most of the strongly inked pixels reach it. "Strongly": over half of the
    PEAK_RANK-th strongest pixel, so that neither a few hot pixels nor the faint noise above the floor set it.
    """
    flat = strength.flatten()
    inked = flat[flat > 0]  # most of the image is paper, exactly 0 here: ranking only the rest is the same
    if inked.numel() < PEAK_RANK:  # then the PEAK_RANK-th strongest pixel is paper
        near_top = flat.new_zeros(()) if flat.numel() > inked.numel() else flat.min()
    else:
        near_top = inked.topk(PEAK_RANK).values[-1]
    strong = inked[inked > near_top / 2]
    return _sample(strong).quantile(0.5) if strong.numel() else near_top


def _drop_specks(strength: torch.Tensor) -> torch.Tensor:
    """The ink with every blob much smaller than the largest one erased, cropped to the blobs kept.

    Blobs are found on the ink mask pooled down to at most LABEL_SIDE a side; only the crop around the
    kept ones is worked on at full size.
    """
    height, width = strength.shape
    pool = max(1, -(-max(height, width) // LABEL_SIDE))  # ceil: the pooled mask is at most LABEL_SIDE
    # A pooled cell holds ink where its strongest pixel does.
    coarse = F.max_pool2d(strength[None, None], pool, ceil_mode=True)[0, 0] > INK_LEVEL
    if not bool(coarse.any()):
        raise NoInkError("no ink: nothing in the image stands out from its background")
    labels = _label(coarse)
    weight = F.avg_pool2d(strength[None, None], pool, ceil_mode=True)[0, 0] * pool * pool
    count = int(labels.max()) + 1
    mass = torch.zeros(count).index_add_(0, labels.flatten(), weight.flatten() * coarse.flatten())
    mass[0] = 0  # label 0 is the background
    keep = mass >= SPECK_FRACTION * mass.max()
    kept = keep[labels]
    rows, cols = kept.any(dim=1).nonzero(), kept.any(dim=0).nonzero()
    top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    crop = strength[top * pool : bottom * pool, left * pool : right * pool]
    cells = kept[top:bottom, left:right].repeat_interleave(pool, 0).repeat_interleave(pool, 1)
    return crop * cells[: crop.shape[0], : crop.shape[1]]


def _label(mask: torch.Tensor) -> torch.Tensor:
    """Connected blobs of a boolean mask (8-neighbourhood): 0 for background, a positive id per blob.

    Every pixel starts with its own id (its index + 1) and takes its neighbourhood's largest until nothing
    changes, so each blob ends with its largest pixel's id. An id names a pixel of the same blob, whose own
    id is at least as large: taking it too (pointer jumping) carries an id along a winding stroke in a few
    rounds rather than one round per pixel of the stroke's length.
    """
    height, width = mask.shape
    ids = torch.arange(1, height * width + 1, dtype=torch.float32).reshape(height, width) * mask
    while True:
        grown = F.max_pool2d(ids[None, None], 3, stride=1, padding=1)[0, 0] * mask
        flat = grown.flatten()
        for _ in range(2):
            flat = flat[(flat.long() - 1).clamp_min(0)] * mask.flatten()
        grown = flat.view(height, width)
        if torch.equal(grown, ids):
            break
        ids = grown
    _, dense = torch.unique(ids.long(), return_inverse=True)  # 0 stays 0: it is the smallest value
    return dense


def _fit_and_centre(glyph: torch.Tensor) -> torch.Tensor:
    inked = glyph > INK_LEVEL
    rows, cols = inked.any(dim=1).nonzero(), inked.any(dim=0).nonzero()
    top, bottom, left, right = int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())
    box = glyph[top : bottom + 1, left : right + 1]
    height, width = box.shape
    scale = BOX / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if scale < 1:  # area averaging: every source pixel counts by the share of it each output pixel covers
        fitted = F.adaptive_avg_pool2d(box[None, None], size)[0, 0]
    else:
        fitted = F.interpolate(box[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    fitted = fitted * 255
    mass = fitted.sum()
    # In pixel-index coordinates, as MNIST's own digits have theirs: their centre of mass averages (14, 14).
    centres_y = torch.arange(size[0], dtype=torch.float32)
    centres_x = torch.arange(size[1], dtype=torch.float32)
    mass_y = float((fitted.sum(dim=1) * centres_y).sum() / mass)
    mass_x = float((fitted.sum(dim=0) * centres_x).sum() / mass)
    top = min(max(round(FIELD / 2 - mass_y), 0), FIELD - size[0])
    left = min(max(round(FIELD / 2 - mass_x), 0), FIELD - size[1])
    field = torch.zeros(FIELD, FIELD)
    field[top : top + size[0], left : left + size[1]] = fitted
    return field.round_().clamp_(0, 255).to(torch.uint8)
