#!/bin/sh
# Print the path of a Python >= 3.12 interpreter, or explain how to get one and exit 1.
#
# Order: $PYTHON if set; python3.12, python3.13, python3.14 and python3 on PATH; then pyenv's
# installs (3.12 first). pyenv shims of versions that are not selected fail to run, so every
# candidate is run, not just looked up. The lock file was resolved on 3.12, which is preferred.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then command -v "$PYTHON" || echo "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not a Python 3.12 or newer." >&2
  exit 1
fi
for cand in python3.12 python3.13 python3.14 python3; do
  if ok "$cand"; then
    "$cand" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
for dir in "$root"/versions/3.12* "$root"/versions/3.13* "$root"/versions/3.1[4-9]*; do
  if [ -x "$dir/bin/python3" ] && ok "$dir/bin/python3"; then
    echo "$dir/bin/python3"
    exit 0
  fi
done
cat >&2 <<'MSG'
This book needs Python 3.12 or newer, and none was found (tried $PYTHON, python3.12,
python3.13, python3.14, python3 and pyenv's installs). Install one, e.g.
  pyenv install 3.12     (or: sudo apt-get install python3.12 python3.12-venv, where available)
then run make again, or point make at it: make test PYTHON=/path/to/python3.12
MSG
exit 1
