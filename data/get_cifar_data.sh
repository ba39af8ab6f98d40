#!/usr/bin/env bash
# Fetches the CIFAR-10 *binary* archive (never the pickled Python version), checks its MD5 and
# extracts it into data/cifar_data/ (next to this script, whatever the current directory), giving
# data/cifar_data/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin. The extraction is
# guarded: every member is checked before anything is written, and an archive holding an absolute
# path, a `..` component, a link or a device is refused whole, so nothing lands outside the
# destination. A stamp holding the archive's MD5 marks a finished extraction, so a second run
# changes nothing.
#
# Environment:
#   CIFAR_SOURCE=DIR_OR_URL  use this instead of the official site: a directory holding
#                            cifar-10-binary.tar.gz, a base URL serving it, or the archive itself
#   CIFAR_DIR=DIR            destination instead of data/cifar_data/
#   CIFAR_UPLOAD=URL         then copy the checked batches to this folder on a store (s3://...,
#                            hdfs://..., webhdfs://...; needs pip install -e ".[remote]")
#   CIFAR_MD5=SUM            for tests only: the sum a test-made archive must match
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${CIFAR_DIR:-$SCRIPT_DIR/cifar_data}"
ARCHIVE=cifar-10-binary.tar.gz
OFFICIAL="https://www.cs.toronto.edu/~kriz"
EXPECTED_MD5="${CIFAR_MD5:-c32a1d4ab5d03f1284b67883e8d87530}"
BATCH_DIR="$DEST/cifar-10-batches-bin"
BATCHES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
  test_batch.bin)
STAMP="$BATCH_DIR/.archive-md5"

# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

all_batches_present() {
  local batch
  for batch in "${BATCHES[@]}"; do
    [[ -f "$BATCH_DIR/$batch" ]] || return 1
  done
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$EXPECTED_MD5" ]] && all_batches_present; then
  echo "CIFAR-10 already present and valid in $BATCH_DIR, skipped"
  upload_if_asked "$BATCH_DIR" "${CIFAR_UPLOAD:-}"
  exit 0
fi

mkdir -p -- "$DEST" || die "cannot create $DEST"
# Whatever was there is not known to be a complete extraction any more.
rm -f -- "$STAMP"

source="${CIFAR_SOURCE:-$OFFICIAL}"
downloaded=0
if is_url "$source"; then
  url="$source"
  [[ "$url" == *.tar.gz ]] || url="${source%/}/$ARCHIVE"
  # In the destination, so a partial download never sits in the source tree.
  archive="$(mktemp "$DEST/.$ARCHIVE.XXXXXX")"
  TMP_FILES+=("$archive")
  echo "$ARCHIVE: downloading $url"
  download "$url" "$archive" || die "$ARCHIVE: download of $url failed"
  downloaded=1
elif [[ -d "$source" ]]; then
  archive="$source/$ARCHIVE"
  [[ -f "$archive" ]] || die "$ARCHIVE: not found in CIFAR_SOURCE=$source"
elif [[ -f "$source" ]]; then
  archive="$source"
else
  die "CIFAR_SOURCE=$source is neither a directory, a file nor a URL"
fi

got="$(md5_of "$archive")"
if [[ "$got" != "$EXPECTED_MD5" ]]; then
  if ((downloaded)); then
    rm -f -- "$archive"
    die "$ARCHIVE: MD5 mismatch (got $got, expected $EXPECTED_MD5); bad file removed"
  fi
  die "$archive: MD5 mismatch (got $got, expected $EXPECTED_MD5); source left untouched"
fi
echo "$ARCHIVE: MD5 ok, extracting into $DEST"

# tarfile's own extract() has followed links and `..` in past releases; this checks every member
# first (refusing the whole archive on one bad member) and then writes plain files itself.
if ! reason="$(python3 - "$archive" "$DEST" <<'PY'
import os
import shutil
import sys
import tarfile

archive, dest = sys.argv[1], sys.argv[2]
root = os.path.realpath(dest)


def refuse(message):
    print(message)
    sys.exit(1)


def target_of(member):
    name = member.name
    if member.issym() or member.islnk():
        refuse(f"refused: member {name!r} is a link")
    if not (member.isfile() or member.isdir()):
        refuse(f"refused: member {name!r} is a device or other special file")
    if name.startswith("/") or os.path.isabs(name):
        refuse(f"refused: member {name!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        refuse(f"refused: member {name!r} has a '..' component")
    # realpath also catches a symlink already sitting in the destination.
    target = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, target]) != root or (member.isfile() and target == root):
        refuse(f"refused: member {name!r} would land outside {root}")
    return target


try:
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        planned = [(member, target_of(member)) for member in members]
        for member, target in planned:
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
except (tarfile.TarError, OSError, EOFError) as error:
    refuse(f"cannot extract: {error}")
PY
)"; then
  die "$ARCHIVE: ${reason:-extraction failed}"
fi

for batch in "${BATCHES[@]}"; do
  [[ -f "$BATCH_DIR/$batch" ]] || die "$ARCHIVE: no cifar-10-batches-bin/$batch in the archive"
done
# The MD5 of each file from the checked archive: what the trainer holds the files to later.
for batch in "${BATCHES[@]}"; do
  echo "$(md5_of "$BATCH_DIR/$batch")  $batch"
done >"$BATCH_DIR/.checksums.md5"
echo "$EXPECTED_MD5" >"$STAMP"
echo "CIFAR-10 is ready in $BATCH_DIR"
upload_if_asked "$BATCH_DIR" "${CIFAR_UPLOAD:-}"
