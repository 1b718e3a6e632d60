"""The saliency engine: models that score an image's saliency, behind one interface
(:mod:`cropaudit.engine.types`).

``fastgaze`` is our TensorFlow port of Twitter's released model (run on CPU by LiteRT), read
from its ``.vxm`` file (:mod:`~cropaudit.engine.vxm`, :mod:`~cropaudit.engine.model_store`);
``center`` is the no-model baseline; :func:`cropaudit.engine.loader.load_model` builds
FastGaze. Decoding the images they are given is :mod:`cropaudit.imaging`'s, and the croppers
(:mod:`cropaudit.croppers`) wrap these models with the others behind one cropper interface.
(The public one-image function is :func:`cropaudit.saliency`.)

Importing this package is cheap and imports nothing (every command reads its parameters
through it): TensorFlow loads only for a GPU, or to convert the model to LiteRT once.
"""
