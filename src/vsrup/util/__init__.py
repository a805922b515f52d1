"""The bottom layer next to `vsrup.errors`: small jobs every other layer may use (stage timing,
atomic file writes, resize primitives, blend windows). Imports nothing else from vsrup."""
