"""Embedding: the model (torch or ONNX Runtime), token windows, and the text each input is embedded as."""
