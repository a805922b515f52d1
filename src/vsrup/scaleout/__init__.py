"""Scale-out: upscale many files, or one long file, on several workers (Ray)."""
