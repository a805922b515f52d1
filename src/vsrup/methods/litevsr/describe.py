"""What `vsrup models info litevsr` prints: parameter counts and where the adapter injects."""

from __future__ import annotations


def describe(size: str = "full") -> list[str]:
    """Count parameters on the meta device (no memory is allocated, even for 5 B)."""
    import torch
    from diffusers import WanTransformer3DModel

    from vsrup.methods.litevsr import config as cfg
    from vsrup.methods.litevsr.adapter import StateAwareAdapter

    tcfg, _, acfg = cfg.presets(size)
    with torch.device("meta"):
        base = WanTransformer3DModel(**tcfg)
        adapter = StateAwareAdapter(**acfg)
    n_base = sum(p.numel() for p in base.parameters())
    n_adapter = sum(p.numel() for p in adapter.parameters())
    n_inject = sum(p.numel() for p in adapter.injections.parameters())
    total = n_base + n_adapter
    return [
        f"base DiT (frozen, Wan2.2-TI2V-5B config): {n_base / 1e6:,.1f} M parameters",
        f"State-Aware Adapter (trainable): {n_adapter / 1e6:,.1f} M "
        f"({100 * n_adapter / total:.2f} % of {total / 1e9:.2f} B; paper: 634 M, 11.25 %)",
        f"  of which zero-initialised injections: {n_inject / 1e6:,.1f} M "
        f"({len(adapter.injections)} × Linear({acfg['dim']}, {acfg['dim']}))",
        f"injects after each of the {tcfg['num_layers']} DiT blocks: "
        "main tokens += injection_i(condition-branch tokens)",
        f"query prototype window (latent frames, height, width): {tuple(acfg['window'])}",
    ]
