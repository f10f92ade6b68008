"""The baseline for `serve_load.py`: FastAPI + a transformers pipeline, one request per forward pass.

This is how a model is commonly put behind HTTP: a synchronous endpoint (FastAPI runs it in its thread pool) calling
`pipeline("text-classification")` on the one text it received. Same request and response shape as
`distilkit serve`'s /v1/classify for one text, so the load generator drives both the same way.

    python benchmarks/naive_server.py MODEL_FOLDER --port 8001 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline


class Body(BaseModel):
    text: str


def make_app(model: str) -> FastAPI:
    classifier = pipeline("text-classification", model=model, tokenizer=model, device=-1, truncation=True)
    app = FastAPI()

    @app.get("/readyz")
    def readyz() -> dict:
        return {"status": "ready"}

    @app.post("/v1/classify")
    def classify(body: Body) -> dict:
        start = time.perf_counter()
        (result,) = classifier(body.text)
        latency = round((time.perf_counter() - start) * 1000, 3)
        return {"results": [{"label": result["label"], "score": result["score"]}], "latency_ms": latency}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="Hugging Face classifier folder")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    uvicorn.run(make_app(args.model), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
