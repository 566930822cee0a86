"""Search: the dense engines (pgvector, FAISS files and their snapshots) and the index commands behind them."""
