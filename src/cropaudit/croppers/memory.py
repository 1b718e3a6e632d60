"""How much memory each cropper needs: measured figures, and what follows for a job.

A cropper's process holds its libraries and model once (``base_mb``) and, for every image it
has in flight, that image's decoded pixels and the buffers made from them. The second part
grows with the image: the largest image a job can meet is set by ``model.max_pixels`` (100
megapixels by default), and a PNG is the worst case per pixel (decoded whole; a JPEG is
decoded at a reduced DCT scale). The figures below are ``benchmarks/bench_memory.py`` on
100 MP and 25 MP PNGs (peak resident memory of one ``cropaudit saliency`` process, less the
peak on a tiny image); they grow linearly with the pixels.

| cropper | process | one 100 MP PNG in flight | one 100 MP JPEG | peak, 1 worker |
| --- | ---: | ---: | ---: | ---: |
| fastgaze | 126 MB | +460 MB (decoded in strips) | +3 MB | 586 MB |
| center | 54 MB | +0 (reads the header only) | +0 | 54 MB |
| smartcrop | 55 MB | +1,335 MB | +23 MB | 1,390 MB |
| opencv-spectral / -finegrained | 81 MB | +1,330 MB | +18 MB | 1,411 MB |
| face-center | 710 MB (TensorFlow, MTCNN) | +1,328 MB | +503 MB (detection) | 2,038 MB |

Only the FastGaze engine runs several images at once (one per worker thread); the other
croppers take one image at a time. ``pair-saliency`` also renders composites in threads, each
decoding one member at a time (:data:`~cropaudit.imaging.upright.DECODE_MB_PER_MEGAPIXEL`).
Thread counts are sized with :func:`cropaudit.engine.threads.workers_within`; a workflow
asks for :func:`cropper_memory_mb` per job.
"""

from __future__ import annotations

from dataclasses import dataclass

from cropaudit.engine.fastgaze import FASTGAZE_BASE_MB, FASTGAZE_MB_PER_MEGAPIXEL
from cropaudit.engine.params import DEFAULT_MAX_PIXELS
from cropaudit.imaging.upright import DECODE_MB_PER_MEGAPIXEL


@dataclass(frozen=True)
class CropperMemory:
    """One cropper's measured memory: its process, and what one image in flight adds."""

    base_mb: float
    #: per megapixel of the largest image (``model.max_pixels``), for the worst case (PNG)
    per_megapixel_mb: float
    #: what an image adds whatever its size (face detection on a downscaled copy)
    floor_mb: float = 0.0

    def image_mb(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> float:
        """What one image in flight adds, at most, under the pixel limit ``max_pixels``."""
        return max(self.floor_mb, self.per_megapixel_mb * max_pixels / 1e6)

    def peak_mb(self, max_pixels: int = DEFAULT_MAX_PIXELS, workers: int = 1) -> float:
        """The process's peak with ``workers`` images in flight at once."""
        return self.base_mb + workers * self.image_mb(max_pixels)


#: Built-in croppers' figures (see the module docstring). ``command`` counts cropaudit's side
#: (it decodes each image to check it and map the answer); the program's own memory is not
#: known. Plugins have no figure.
CROPPER_MEMORY: dict[str, CropperMemory] = {
    "fastgaze": CropperMemory(FASTGAZE_BASE_MB, FASTGAZE_MB_PER_MEGAPIXEL),
    "center": CropperMemory(54, 0.0),
    "smartcrop": CropperMemory(55, DECODE_MB_PER_MEGAPIXEL, 25),
    "opencv-spectral": CropperMemory(81, DECODE_MB_PER_MEGAPIXEL, 20),
    "opencv-finegrained": CropperMemory(81, DECODE_MB_PER_MEGAPIXEL, 20),
    "face-center": CropperMemory(710, DECODE_MB_PER_MEGAPIXEL, 505),
    "command": CropperMemory(55, DECODE_MB_PER_MEGAPIXEL, 25),
}


def cropper_memory_mb(name: str, max_pixels: int = DEFAULT_MAX_PIXELS, workers: int = 1
                      ) -> int | None:
    """Peak MB of a job running cropper ``name`` with ``workers`` images in flight under the
    pixel limit ``max_pixels`` (what a workflow rule asks for as ``mem_mb``); None for a
    plugin, whose needs are not known."""
    figure = CROPPER_MEMORY.get(name)
    return None if figure is None else round(figure.peak_mb(max_pixels, workers))
