"""x264 gives the same bytes for the same frames only below AVX-512: cap its instruction set.

Measured on this project's CI machines (AMD EPYC with AVX-512, the x264 core 165 that PyAV's
wheels bundle): encoding the same 320×240 frames with the same settings in one process gave
two or three different bitstreams over 80 runs, keyframe equal and later frames not. With
x264 told to stop at AVX2 (`asm=AVX2`), or without the macroblock tree, every run gave the
same bytes; x265, SVT-AV1 and libvpx were stable without help. Bit-identical encoding is
what makes a resumed or distributed run equal to an uninterrupted one (each segment is
encoded on its own and stitched), so vsrup caps x264 at AVX2 on CPUs that have AVX-512.
Cost, measured at 1080p on 2 cores: about 11 % more user CPU time (docs/engine.md).

The cap is only given where the CPU has AVX-512: `asm=AVX2` turns those instructions on
without checking the CPU, so on an older one it would crash x264 instead of capping it.
"""

from __future__ import annotations

import functools

#: What x264 is told on an AVX-512 CPU (x264's own name for the AVX2 instruction level).
ASM_CAP = "asm=AVX2"


@functools.cache
def cpu_has_avx512() -> bool:
    """Whether this CPU runs AVX-512F code (numpy's dispatcher probes it at import)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy 1.x keeps it under the old name
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return _cpuinfo_has_avx512()
    return bool(features.get("AVX512F"))


def _cpuinfo_has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return any(line.startswith("flags") and " avx512f" in line for line in fh)
    except OSError:
        return False


def reproducible_x264_params(params: str | None = None) -> str | None:
    """`params` (x264-params, `key=value:…`) with the AVX2 cap added where it is needed."""
    if not cpu_has_avx512():
        return params
    return ASM_CAP if not params else f"{params}:{ASM_CAP}"
