"""Image files to upright RGB pixels, decoded and resampled exactly as the original program did.

Everything that looks at an image goes through here, so every coordinate means the same pixel
whoever reads it: :mod:`~cropaudit.imaging.source` opens a file with one-line errors (missing,
not an image, a decompression bomb); :mod:`~cropaudit.imaging.preprocess` rebuilds the network
input of Twitter's program bit for bit (decoding like libjpeg-turbo and libpng,
:mod:`~cropaudit.imaging.resample` for its resize, :mod:`~cropaudit.imaging.libwebp` for WebP);
:mod:`~cropaudit.imaging.upright` decodes a whole image by the same rules for the app, faces,
gaze and the croppers.

NumPy, Pillow and (for WebP) cffi only; no model code. Importing this package imports nothing.
"""
