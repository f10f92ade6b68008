"""distilkit: distil BERT-family teachers into small, fast students and ship them."""

__version__ = "0.1.0"
