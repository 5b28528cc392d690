"""Render a Comparison as one PNG: rows are times, columns are the reference and the models.

Every cell is a 1:1 crop (or enlarged ``zoom`` times by pixel repetition, so that no filter
softens what is compared) under a dark header strip with the model's name (large) and the frame's
time and the model's time per frame (small), so a model can be chosen at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vsr.compare import Cell, Comparison, Crop

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BACKGROUND = (24, 24, 24)  # RGB
_HEADER = (40, 40, 40)
_TITLE = (255, 255, 255)
_DETAIL = (200, 200, 200)
_REFERENCE_TITLE = (255, 210, 120)
_GAP = 6
_PAD = 8


@dataclass(frozen=True)
class Layout:
    """Where everything goes, in pixels of the grid image."""

    width: int
    height: int
    top: int  # height of the heading line
    cell_w: int
    cell_h: int  # header strip + crop
    header_h: int
    title_scale: float
    detail_scale: float
    zoom: int = 1

    def cell_origin(self, row: int, column: int) -> tuple[int, int]:
        """(x, y) of a cell's top-left corner (its header strip)."""
        return _GAP + column * (self.cell_w + _GAP), self.top + row * (self.cell_h + _GAP)

    def crop_origin(self, row: int, column: int) -> tuple[int, int]:
        """(x, y) of the first pixel of a cell's crop."""
        x, y = self.cell_origin(row, column)
        return x, y + self.header_h


def layout(comparison: Comparison, zoom: int = 1) -> Layout:
    rows = comparison.rows
    cell_w = zoom * max(cell.image.shape[1] for row in rows for cell in row)
    title_scale, detail_scale = _scales(cell_w, [c.model for c in rows[0]])
    header_h = _text_height(title_scale) + _text_height(detail_scale) + 3 * _PAD
    cell_h = zoom * max(cell.image.shape[0] for row in rows for cell in row) + header_h
    top = _text_height(detail_scale) + 2 * _PAD
    return Layout(width=_GAP + len(rows[0]) * (cell_w + _GAP), height=top + len(rows) * (cell_h + _GAP), top=top,
                  cell_w=cell_w, cell_h=cell_h, header_h=header_h, title_scale=title_scale, detail_scale=detail_scale,
                  zoom=zoom)


def render(comparison: Comparison, zoom: int = 1) -> np.ndarray:
    """H×W×3 uint8 RGB image of the whole grid."""
    if zoom < 1:
        raise ValueError("zoom must be at least 1")
    g = layout(comparison, zoom)
    grid = np.full((g.height, g.width, 3), _BACKGROUND, np.uint8)
    cv2.putText(grid, _fit(heading(comparison, zoom), g.width - 2 * _PAD, g.detail_scale, 1), (_PAD, g.top - _PAD), _FONT,
                g.detail_scale, _DETAIL, 1, cv2.LINE_AA)
    for r, row in enumerate(comparison.rows):
        for c, cell in enumerate(row):
            x0, y0 = g.cell_origin(r, c)
            _draw_cell(grid[y0: y0 + g.cell_h, x0: x0 + g.cell_w], cell, comparison.crops[r], g)
    return grid


def heading(comparison: Comparison, zoom: int = 1) -> str:
    """What the whole grid shows, in one line."""
    source = comparison.plans[0].source
    crop = comparison.crops[0]
    shown = "1:1" if zoom == 1 else f"shown {zoom}x, pixels repeated"
    return (f"{source.path.name}  {source.width}x{source.height} -> {comparison.width}x{comparison.height}  "
            f"crops {crop.width}x{crop.height} of the output ({shown})")


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode the PNG")
    return data.tobytes()


def labels(cell: Cell, crop: Crop) -> tuple[str, str]:
    """(title, detail) written above a cell."""
    if cell.seconds_per_frame is None:
        return cell.model, f"t={cell.time:.2f}s  crop at {crop.x},{crop.y}"
    spf = cell.seconds_per_frame
    speed = f"{spf:.2f} s/frame" if spf >= 0.1 else f"{spf * 1000:.0f} ms/frame"
    return cell.model, f"t={cell.time:.2f}s  {speed}"


def _draw_cell(area: np.ndarray, cell: Cell, crop: Crop, g: Layout) -> None:
    area[:g.header_h] = _HEADER
    image = np.repeat(np.repeat(cell.image, g.zoom, axis=0), g.zoom, axis=1) if g.zoom > 1 else cell.image
    h, w = image.shape[:2]
    area[g.header_h: g.header_h + h, :w] = image
    title, detail = labels(cell, crop)
    title_scale, detail_scale = g.title_scale, g.detail_scale
    colour = _REFERENCE_TITLE if cell.seconds_per_frame is None else _TITLE
    y = _PAD + _text_height(title_scale)
    cv2.putText(area, _fit(title, area.shape[1] - 2 * _PAD, title_scale, 2), (_PAD, y), _FONT, title_scale,
                colour, 2, cv2.LINE_AA)
    y += _PAD + _text_height(detail_scale)
    cv2.putText(area, _fit(detail, area.shape[1] - 2 * _PAD, detail_scale, 1), (_PAD, y), _FONT, detail_scale,
                _DETAIL, 1, cv2.LINE_AA)


def _scales(cell_w: int, titles: list[str]) -> tuple[float, float]:
    """Font scales that fit the longest title in a cell, within readable bounds."""
    title = 0.8
    while title > 0.45 and max(_width(t, title, 2) for t in titles) > cell_w - 2 * _PAD:
        title -= 0.05
    return title, max(0.4, min(0.55, title * 0.7))


def _fit(text: str, width: int, scale: float, thickness: int) -> str:
    """``text``, shortened with an ellipsis to ``width`` pixels."""
    if _width(text, scale, thickness) <= width:
        return text
    while len(text) > 1 and _width(text + "...", scale, thickness) > width:
        text = text[:-1]
    return text + "..."


def _width(text: str, scale: float, thickness: int) -> int:
    return cv2.getTextSize(text, _FONT, scale, thickness)[0][0]


def _text_height(scale: float) -> int:
    return cv2.getTextSize("Ag", _FONT, scale, 2)[0][1]
