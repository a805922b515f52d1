"""Streaming video I/O on PyAV: probe, read, write, remux, image sequences, test clips."""
