"""Dataset sources that all yield one table schema (:mod:`cropaudit.datasets.table`).

Each source is a module with a ``build(params, out_path) -> pandas.DataFrame`` function that
writes its images under the dataset folder and returns the validated table;
:data:`cropaudit.datasets.prepare.SOURCES` maps ``dataset.source`` to it.
"""
