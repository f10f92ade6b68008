"""`distilkit serve`: bundles behind an HTTP API with dynamic batching, a retrieval chatbot and a try-it page.

Runs on the torch-free runtime (`distilkit.runtime`) plus FastAPI and uvicorn (`pip install distilkit[serve]`):

- `batcher`: bounded per-model queues whose texts run together, off the event loop
- `app`: the endpoints, limits, auth and lifespan; `middleware`: body cap and request metrics
- `oip`: the Open Inference Protocol (KServe V2) endpoints under /v2, the tensors Triton's ensembles answer with
- `models`: named bundles and per-task results; `chatbot`: intents file → nearest-example bot
- `metrics`: Prometheus; `page`: the HTML page at `/`; `server`: uvicorn with graceful shutdown
"""
