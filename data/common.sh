# Shared by get_mnist_data.sh and get_cifar_data.sh (sourced, not run): clean-up of temporary
# files, the one-line error, MD5 of a file, a download with a progress bar and the upload of the
# checked files to a store.

PROG="$(basename "$0")"
TMP_FILES=()
cleanup() { rm -f -- "${TMP_FILES[@]+"${TMP_FILES[@]}"}"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One line, last on stderr (only curl or wget, when used, write there too): a caller can show it.
die() { echo "$PROG: error: $*" >&2; exit 1; }

md5_of() {
  if command -v md5sum >/dev/null 2>&1; then
    md5sum <"$1" | cut -d' ' -f1
  elif command -v md5 >/dev/null 2>&1; then
    md5 -q "$1"
  else
    python3 -c 'import hashlib, sys
h = hashlib.md5()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
  fi
}

# download URL OUT: with a progress bar; non-zero when the transfer fails.
download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fL --progress-bar --connect-timeout 20 --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget --progress=bar:force --timeout=20 --tries=3 -O "$2" "$1"
  else
    echo "  neither curl nor wget is installed"
    return 1
  fi
}

is_url() { [[ "$1" =~ ^(https?|ftp|file):// ]]; }

# upload_if_asked FOLDER URL: when URL is set (MNIST_UPLOAD, CIFAR_UPLOAD), copy FOLDER's files
# to that folder on a store through fsspec (data/upload.py: one line on failure), with $PYTHON
# (the trainer's own interpreter, for --download) or python3.
upload_if_asked() {
  [[ -z "$2" ]] && return 0
  "${PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/upload.py" "$1" "$2" \
    || die "upload to $2 failed"
}
