"""What every method shares: segmentation, temporal chunks, tiles, runtime, resume, colour."""
