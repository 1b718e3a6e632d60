"""Dataset sources that all yield one table schema (:mod:`cropaudit.datasets.table`).

Each source is a module with a ``build(params, out_path) -> pandas.DataFrame`` function that
writes its images under the dataset folder and returns the validated table;
:data:`cropaudit.datasets.prepare.SOURCES` maps ``dataset.source`` to it.
"""

# Short-lived, to be removed when the statistics rework is merged (issue 27, part B): that
# branch owns datasets/validate.py, which still imports two modules by the engine package's
# old name, and ``cropaudit.saliency`` is now the API's function, so no package may take that
# name. These entries let that one import find the modules' new homes; the fix at merge is to
# import them from there in validate.py and delete this block.
import sys as _sys

from cropaudit.engine import model_store as _model_store
from cropaudit.imaging import source as _source

_sys.modules.setdefault("cropaudit.saliency.model_store", _model_store)
_sys.modules.setdefault("cropaudit.saliency.source", _source)
