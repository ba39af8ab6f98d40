"""Copy a local data folder to a store: `python data/upload.py FOLDER URL` (what MNIST_UPLOAD and
CIFAR_UPLOAD of the get_*_data.sh scripts call). Credentials and endpoint come from the
environment (AWS_* variables, AWS_ENDPOINT_URL, fsspec's configuration). Needs the [remote]
extra; a failure is one line and exit 2.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's paddle_gan

from paddle_gan.errors import UsageError  # noqa: E402
from paddle_gan.remote import upload_folder  # noqa: E402


def main(argv) -> int:
    if len(argv) != 2:
        print("usage: python data/upload.py FOLDER URL", file=sys.stderr)
        return 2
    folder, url = argv
    try:
        count = upload_folder(Path(folder), url)
    except UsageError as err:
        print(f"upload.py: error: {err}", file=sys.stderr)
        return 2
    print(f"uploaded {count} files of {folder} to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
