#!/usr/bin/env bash
# Fetches the four MNIST IDX files, uncompressed, into data/mnist_data/ (next to this script,
# whatever the current directory). Every file is checked against the official MD5 of its
# uncompressed bytes before it gets its final name, so a file under the final name is always good;
# files already present and valid are left alone, so running it twice changes nothing.
#
# Environment:
#   MNIST_SOURCE=DIR_OR_URL  use only this source instead of the public mirrors: a directory
#                            holding the files (uncompressed or .gz) or a base URL serving the .gz
#   MNIST_DIR=DIR            destination instead of data/mnist_data/
#   MNIST_UPLOAD=URL         then copy the checked files to this folder on a store (s3://...,
#                            hdfs://..., webhdfs://...; needs pip install -e ".[remote]")
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${MNIST_DIR:-$SCRIPT_DIR/mnist_data}"

# Tried in order; the first one that serves a file with the right checksum wins.
MIRRORS=(
  "https://ossci-datasets.s3.amazonaws.com/mnist"
  "https://storage.googleapis.com/cvdf-datasets/mnist"
)

# name and official MD5 of the uncompressed file (the .gz bytes differ between mirrors). Smallest
# first, so a failing source is found out before the 47 MB file. Plain pairs, not an associative
# array, so the bash 3.2 of macOS runs this too.
FILES=(
  "t10k-labels-idx1-ubyte 27ae3e4e09519cfbb04c329615203637"
  "t10k-images-idx3-ubyte 2646ac647ad5339dbf082846283269ea"
  "train-labels-idx1-ubyte a25bea736e30d166cdddb491f175f624"
  "train-images-idx3-ubyte 6bbc9ace898e44ae57da46a324031adb"
)

# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

# fetch SOURCE NAME OUT: writes the uncompressed NAME from SOURCE to OUT. On failure it returns
# non-zero with the reason in FETCH_ERROR. A download goes to OUT.gz, which the caller cleans up.
fetch() {
  local source="$1" name="$2" out="$3"
  if is_url "$source"; then
    local url="${source%/}/$name.gz"
    download "$url" "$out.gz" || { FETCH_ERROR="download of $url failed"; return 1; }
    gzip -dc <"$out.gz" >"$out" 2>/dev/null \
      || { FETCH_ERROR="$name.gz does not decompress"; return 1; }
    rm -f -- "$out.gz"
  elif [[ -f "$source/$name" ]]; then
    echo "  copying $source/$name"
    cp -- "$source/$name" "$out" || { FETCH_ERROR="cannot copy $source/$name"; return 1; }
  elif [[ -f "$source/$name.gz" ]]; then
    echo "  decompressing $source/$name.gz"
    gzip -dc <"$source/$name.gz" >"$out" 2>/dev/null \
      || { FETCH_ERROR="$source/$name.gz does not decompress"; return 1; }
  else
    FETCH_ERROR="not found (neither $source/$name nor $source/$name.gz)"
    return 1
  fi
}

if [[ -n "${MNIST_SOURCE:-}" ]]; then
  if ! is_url "$MNIST_SOURCE" && [[ ! -d "$MNIST_SOURCE" ]]; then
    die "MNIST_SOURCE=$MNIST_SOURCE is neither a directory nor a URL"
  fi
  SOURCES=("$MNIST_SOURCE")
else
  SOURCES=("${MIRRORS[@]}")
fi

mkdir -p -- "$DEST" || die "cannot create $DEST"

for entry in "${FILES[@]}"; do
  name="${entry% *}"
  expected="${entry#* }"
  target="$DEST/$name"
  if [[ -f "$target" ]]; then
    if [[ "$(md5_of "$target")" == "$expected" ]]; then
      echo "$name: already present and valid, skipped"
      continue
    fi
    # A bad file under the final name would be read as data; drop it before fetching again.
    echo "$name: present but its MD5 is wrong; removing it and fetching it again"
    rm -f -- "$target"
  fi

  # Same directory as the target, so the final rename is atomic.
  tmp="$(mktemp "$DEST/.$name.XXXXXX")"
  TMP_FILES+=("$tmp" "$tmp.gz")
  last_error=""
  for source in "${SOURCES[@]}"; do
    echo "$name: fetching from $source"
    FETCH_ERROR=""
    if ! fetch "$source" "$name" "$tmp"; then
      echo "  failed: $FETCH_ERROR"
      last_error="$source: $FETCH_ERROR"
      continue
    fi
    got="$(md5_of "$tmp")"
    if [[ "$got" == "$expected" ]]; then
      chmod a+r -- "$tmp"  # mktemp makes it private; the data is not
      mv -f -- "$tmp" "$target"
      echo "$name: MD5 ok, saved as $target"
      continue 2
    fi
    echo "  MD5 mismatch (got $got, expected $expected); bad file removed"
    last_error="$source: MD5 mismatch (got $got, expected $expected); bad file removed"
    rm -f -- "$tmp"
  done
  rm -f -- "$tmp" "$tmp.gz"
  die "$name: no good copy from any source (last: $last_error)"
done

echo "MNIST is ready in $DEST"
upload_if_asked "$DEST" "${MNIST_UPLOAD:-}"
