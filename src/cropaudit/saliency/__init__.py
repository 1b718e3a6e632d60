"""Saliency backends behind one interface (see :mod:`cropaudit.saliency.types`).

``fastgaze`` is our TensorFlow port of Twitter's released model (run on CPU by LiteRT);
``center`` is the no-model baseline; :func:`cropaudit.saliency.loader.load_model` builds
FastGaze. Importing this package is cheap and imports nothing (every command reads its
parameters through it): TensorFlow loads only for a GPU, or to convert the model to LiteRT once.
"""
