#!/usr/bin/env bash
# One entry point for a fresh machine: system packages, a cached virtual environment, then a job.
#   bash tools/setup.sh demo   -> environment + `streammem demo` on the bundled defaults
#   bash tools/setup.sh test   -> environment + the default test suite
#   bash tools/setup.sh env    -> environment only (prints its path)
# The environment lives outside the clone, keyed by a hash of requirements/*.txt, so a second run
# (or CI on the same machine) reuses it; a changed pin builds a new one from scratch.
set -euo pipefail
job="${1:-test}"; shift || true
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v Xvfb >/dev/null || need_apt+=(xvfb)
ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || need_apt+=(libportaudio2)
ldconfig -p 2>/dev/null | grep -q libsndfile.so.1 || need_apt+=(libsndfile1)
ldconfig -p 2>/dev/null | grep -q libGL.so.1 || need_apt+=(libgl1)
ldconfig -p 2>/dev/null | grep -q libglib-2.0.so.0 || need_apt+=(libglib2.0-0)
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
if ((${#need_apt[@]})); then
  echo "setup: installing system packages: ${need_apt[*]}"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

key="$(cat requirements/base.txt requirements/dev.txt | sha256sum | cut -c1-16)"
venv="${STREAMMEM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/streammem/venv-$key}"
if [ ! -f "$venv/.complete" ]; then
  echo "setup: building environment $venv (first run only, a few minutes)"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then  # Debian's python3 ships venv/ensurepip separately
    rm -rf "$venv"
    $sudo apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  # pip's notes about this machine's local wheel mirrors are noise; real errors still reach stderr.
  "$venv/bin/python" -m pip install -q -r requirements/base.txt -r requirements/dev.txt \
    2> >(grep -v '^WARNING: Location' >&2)
  touch "$venv/.complete"
fi
# A light per-clone environment (.venv) layered on the shared one through a .pth file: it sees the shared
# packages and this clone's source, so several clones (CI's, yours) never re-point each other.
if [ "$(cat .venv/.base 2>/dev/null)" != "$venv" ]; then
  rm -rf .venv.new
  python3 -m venv --without-pip .venv.new
  site="$(.venv.new/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  base_site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  printf '%s\n%s\n' "$repo" "$base_site" > "$site/streammem_env.pth"
  printf '#!%s\nimport sys\nfrom streammem.cli import main\nsys.exit(main())\n' "$repo/.venv/bin/python" \
    > .venv.new/bin/streammem
  printf '#!%s\nimport sys\nimport pytest\nsys.exit(pytest.main())\n' "$repo/.venv/bin/python" \
    > .venv.new/bin/pytest
  chmod +x .venv.new/bin/streammem .venv.new/bin/pytest
  ln -s "$venv/bin/ruff" .venv.new/bin/ruff
  echo "$venv" > .venv.new/.base
  rm -rf .venv && mv .venv.new .venv
fi
py="$repo/.venv/bin/python"

export PYTHONUNBUFFERED=1
case "$job" in
  demo) exec "$repo/.venv/bin/streammem" demo "$@" ;;
  test) exec "$py" -m pytest -q "$@" ;;
  env)  echo "$repo/.venv" ;;
  *) echo "setup: unknown job '$job' (use demo, test or env)" >&2; exit 2 ;;
esac
