#!/usr/bin/env bash
# Reproduce docs/video-io.md's measurements: vsrup lanczos ×2 against ffmpeg's lanczos scaler
# with the same encoder settings on a 720p clip, and peak RSS on a short vs a long clip.
#   tools/bench_video_io.sh [WORK_DIR]     (needs ffmpeg and GNU time on PATH)
set -eu
work=${1:-/tmp/vsrup-bench}
py=${PYTHON:-python}
mkdir -p "$work"
cd "$work"
"$py" - <<'PY'
from vsrup.video.synth import make_clip
make_clip("in720.mp4", width=1280, height=720, frames=120, fps=24, audio_tracks=1)
make_clip("short.mp4", width=320, height=180, frames=48, fps=24, audio_tracks=1)
make_clip("long.mp4", width=320, height=180, frames=960, fps=24, audio_tracks=1)
PY
fmt="wall=%e s user=%U s sys=%S s maxrss=%M KB"
/usr/bin/time -f "ffmpeg  $fmt" ffmpeg -v error -y -i in720.mp4 \
  -vf scale=iw*2:ih*2:flags=lanczos -c:v libx264 -crf 18 -preset veryfast -pix_fmt yuv420p \
  -c:a copy ff.mp4
/usr/bin/time -f "vsrup   $fmt" "$py" -m vsrup upscale in720.mp4 -o vs.mp4 --method lanczos \
  --scale 2 --codec h264 --crf 18 --preset veryfast --overwrite -q
/usr/bin/time -f "short   $fmt" "$py" -m vsrup upscale short.mp4 -o s.mp4 --method nearest \
  --overwrite -q
/usr/bin/time -f "long    $fmt" "$py" -m vsrup upscale long.mp4 -o l.mp4 --method nearest \
  --overwrite -q
