"""The Python-backend `model.py` files `distilkit.export.triton` writes into a Triton model repository.

They are copied, not imported by distilkit: each runs inside Triton's Python backend, where the module
`triton_python_backend_utils` exists, and needs only distilkit's torch-free runtime and numpy there.

- `front_end.py`: the ``NAME-tokenize`` and ``NAME-decode`` steps of a bundle's ensemble (`distilkit.runtime.front_end`)
- `onnx_runner.py`: the bundle's graph on ONNX Runtime, for a Triton built without the onnxruntime backend
"""
