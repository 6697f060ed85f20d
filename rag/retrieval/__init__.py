"""Chunking, BM25, the FAISS index and the fused retriever."""
