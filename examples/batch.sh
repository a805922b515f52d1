#!/usr/bin/env bash
# Upscale every video in a folder, skipping those already done and logging failures.
#
#   examples/batch.sh IN_DIR OUT_DIR [extra vsrup upscale options...]
#   e.g. examples/batch.sh ~/tapes ~/tapes_x2 --method lanczos --scale 2 --crf 16
#
# Each file is its own vsrup run, so one damaged file does not stop the rest; failures go to
# OUT_DIR/failed.log with vsrup's one-line reason. (`vsrup upscale IN_DIR -o OUT_DIR` does
# the same in one process, with a summary table; this script shows plain shell use.)
set -u
# The vsrup to run: $VSRUP if set, else `vsrup` on PATH, else the one `make demo`/`make test`
# installed in this checkout's .venv (so the script works without activating it).
here=$(cd "$(dirname "$0")" && pwd)
if [[ -z "${VSRUP:-}" ]]; then
  if command -v vsrup >/dev/null 2>&1; then
    VSRUP=vsrup
  elif [[ -x "$here/../.venv/bin/vsrup" ]]; then
    VSRUP="$here/../.venv/bin/vsrup"
  else
    echo "batch.sh: vsrup not found: run 'make demo' first, or activate the venv (. .venv/bin/activate)" >&2
    exit 2
  fi
fi
in_dir=${1:?usage: batch.sh IN_DIR OUT_DIR [vsrup options...]}
out_dir=${2:?usage: batch.sh IN_DIR OUT_DIR [vsrup options...]}
shift 2
mkdir -p "$out_dir"
log="$out_dir/failed.log"
done_count=0 skipped=0 failed=0
shopt -s nullglob nocaseglob
for src in "$in_dir"/*.{mp4,mkv,mov,webm,avi,m4v,ts}; do
  name=$(basename "$src")
  dst="$out_dir/${name%.*}.mkv"
  if [[ -e "$dst" ]]; then
    skipped=$((skipped + 1))
    continue
  fi
  # shellcheck disable=SC2086 # $VSRUP may be a command with arguments (python -m vsrup)
  if err=$($VSRUP upscale "$src" -o "$dst" -q "$@" 2>&1 >/dev/null); then
    done_count=$((done_count + 1))
  else
    failed=$((failed + 1))
    printf '%s\t%s\n' "$src" "$(printf '%s' "$err" | tail -n 1)" >>"$log"
  fi
done
summary="done: $done_count, skipped (already there): $skipped, failed: $failed"
[[ $failed -gt 0 ]] && summary="$summary (see $log)"
echo "$summary"
[[ $failed -eq 0 ]]
