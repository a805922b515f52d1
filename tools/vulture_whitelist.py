"""Names `vulture` reports as unused that are used, each with its reason (see pyproject's
[tool.vulture]). Vulture reads this file as code that "uses" the names; it is never imported.
Names only tests use count as used (tests are scanned too). Review an entry before adding it:
an entry without a reason is a defect."""
# ruff: noqa: B018, F821

# Signatures a library dictates (Typer's eager --version callback, signal handlers, PyAV's
# error callback shape, diffusers' ControlNet config arguments DGAFNet accepts and ignores).
version
signum
fatal
conditioning_embedding_out_channels
only_cross_attention
use_linear_projection

# Attributes a library reads after we set them (rich's Column, PyAV codec contexts, ncnn's
# options).
_.no_wrap
_.thread_type
_.thread_count
_.openmp_blocktime

# Module names that must match the official checkpoint's keys (DLoRAL's CFR).
_.feat_extract
_.weight_predict
_.weight_predict_final
_.reconstruction_feat

# Converters named by string in models.toml (`converter = "module:function"`).
import_tag_list
import_thresholds

# LiteVSR training helpers: kept for the `vsrup train` trainer (issue 24), covered by tests.
flow_matching_target
loss_weight

# Declarative tables and dataclass fields that document a format or a report column.
REASONS
points
_.points
DEFAULT_STEPS
psnr_y
ssim_y
_.psnr_y
_.ssim_y
ACT_RELU
OFFSET
_.frames_written
_._last_end_s

# Tests: names the standard library or a library calls (http.server handlers, ncnn's option
# object), pytest fixtures requested for their effect, converters named in test registries.
frames_in
_.use_vulkan_compute
_.use_fp16_packed
_.use_fp16_storage
_.use_fp16_arithmetic
_.use_bf16_storage
_.num_threads
_.use_winograd_convolution
protocol_version
timeout
_.log_message
_.do_HEAD
_.do_GET
_.daemon_threads
_.timeout
toy_convert
fake_methods
capsys

# Set for PyAV's encoder (a codec context reads it); a child process's entry point named in a
# `python -c` string (tests/helpers_resume.py); a factory class whose `__new__` builds a
# method class in a test; pytest's module-level marker variable.
_.framerate
child_main
__new__
pytestmark
