"""The ground floor: what every layer above may use, with no torch and no transformers.

User errors, the cache folder, the one atomic writer, the vocabulary of tasks and model inputs, the word, offset and
BIO-span helpers and the cutting of long texts (head-tail, windows) and pooling of windows that training and the
torch-free runtime share, the plain progress lines that training, export and bench print when stdout is not a
terminal, the model cards that recipes and export write, the CPU's vector extensions, and who owns a training run's
output folder.
"""
