#!/usr/bin/env bash
# What the README's install costs a new user: a fresh venv and an empty pip cache, then
# `pip install -c constraints.txt -e ".[EXTRA]"`; prints wall and CPU seconds (CPU is the
# fairer figure on a shared machine), the package count and the venv's size, and names any
# package the install must not bring.
#   benchmarks/install_footprint.sh          # the default install
#   benchmarks/install_footprint.sh all      # .[all]
set -u
extra=${1:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv" || exit 1
export PIP_CACHE_DIR="$work/pip-cache"
target="$repo"; [ -n "$extra" ] && target="$repo[$extra]"
cd "$repo"
/usr/bin/time -f "%e %U %S" -o "$work/time" "$work/venv/bin/pip" install -q -c constraints.txt -e "$target" \
  > "$work/pip.log" 2>&1 || { tail -5 "$work/pip.log"; exit 1; }
read -r wall user sys < "$work/time"
count=$("$work/venv/bin/pip" list --format=freeze 2>/dev/null | wc -l)
size=$(du -sh "$work/venv" | cut -f1)
unwanted=$("$work/venv/bin/pip" list --format=freeze 2>/dev/null | cut -d= -f1 \
  | grep -i -x -E "aait|pymupdf|pymupdf4llm|spacy|thinc|sentence-transformers|optuna" | tr '\n' ' ')
echo "install .[${extra}]: ${wall}s wall, $(echo "$user + $sys" | bc)s CPU, $count packages, venv $size, unwanted: [${unwanted}]"
[ -z "$unwanted" ]
