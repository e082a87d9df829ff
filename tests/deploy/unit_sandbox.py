"""Run a command in an approximation of the sandbox deploy/bigre@.service gives the node, without systemd.

systemd cannot run here (it is not PID 1 on the test machines), so the hardening settings whose mistakes would
only show at run time are rebuilt from the unit's own lines, with the same kernel mechanisms systemd uses:

- the file system (ProtectSystem=strict, ReadWritePaths, PrivateTmp, ProtectHome): in a private mount namespace
  the root file system is read-only, the node's folder is mounted writable at /srv/bigre/<name>, /tmp and
  /var/tmp are fresh, /home and /root are empty; /opt/bigre/.venv is the virtualenv given;
- the user (User=, NoNewPrivileges=): an unprivileged uid and gid, no supplementary groups, no new privileges;
- the seccomp filters, stacked as systemd stacks them: the SystemCallFilter= allow-list (groups expanded by
  ``systemd-analyze syscall-filter``, anything else fails with SystemCallErrorNumber=), MemoryDenyWriteExecute=
  (no mapping both writable and executable, no mprotect to executable), RestrictAddressFamilies= (other socket
  families fail with EAFNOSUPPORT).

Run as root, with Debian's python3-seccomp, inside ``unshare --mount --propagation private``:

    unshare --mount --propagation private /usr/bin/python3 unit_sandbox.py \
        UNIT NODE_DIR VENV UID GID [KEEP...] -- COMMAND...

The other settings (PrivateDevices, PrivateUsers, the Protect* of the kernel, capabilities) are not rebuilt:
the node uses none of what they remove.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import mmap
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

AF_MAX = 46  # Linux 6.x; families above are refused by the kernel anyway


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit, values of repeated keys in order."""
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
        if match:
            found.setdefault(match.group(1), []).append(match.group(2).strip())
    return found


def expand(item: str, seen: set[str] | None = None) -> set[str]:
    """The system calls a filter item names: a call, or a @group expanded recursively as systemd lists it."""
    if not item.startswith("@"):
        return {item}
    seen = seen if seen is not None else set()
    if item in seen:
        return set()
    seen.add(item)
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", item], capture_output=True, text=True, check=True
    ).stdout
    calls: set[str] = set()
    for line in listing.splitlines()[1:]:
        word = line.strip()
        if word and not word.startswith("#"):
            calls |= expand(word, seen)
    return calls


def allowed_calls(filters: list[str]) -> set[str]:
    """SystemCallFilter= lines in order: the first sets an allow-list, later ``~`` lines remove from it."""
    allowed: set[str] = set()
    for number, line in enumerate(filters):
        deny = line.startswith("~")
        items: set[str] = set()
        for word in line.lstrip("~").split():
            items |= expand(word)
        if number == 0 and deny:
            raise SystemExit("a deny-list first is not rebuilt here: the unit allow-lists")
        allowed = allowed - items if deny else allowed | items
    return allowed


def load_filters(settings: dict[str, list[str]]) -> None:
    seccomp: Any = importlib.import_module("seccomp")
    error = getattr(errno, settings.get("SystemCallErrorNumber", ["EPERM"])[-1])
    allowed = allowed_calls(settings["SystemCallFilter"])  # before any filter: it runs systemd-analyze

    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1"):
        wx = mmap.PROT_WRITE | mmap.PROT_EXEC
        memory = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        memory.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
        for name in ("mprotect", "pkey_mprotect"):
            memory.add_rule(
                seccomp.ERRNO(errno.EPERM), name, seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC)
            )
        memory.add_rule(seccomp.ERRNO(errno.EPERM), "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, 0o100000, 0o100000))
        memory.load()

    if "RestrictAddressFamilies" in settings:
        names = " ".join(settings["RestrictAddressFamilies"]).split()
        permitted = {int(getattr(socket, name)) for name in names}
        families = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for family in range(AF_MAX + 1):
            if family not in permitted:
                families.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
        families.load()

    # the allow-list last, as systemd does: it may forbid the calls that load filters
    calls = seccomp.SyscallFilter(defaction=seccomp.ERRNO(error))
    for name in sorted(allowed):
        with contextlib.suppress(RuntimeError, ValueError, OSError):  # not a call of this architecture: skipped
            calls.add_rule(seccomp.ALLOW, name)
    calls.load()


def mount(*args: str) -> None:
    subprocess.run(["mount", "--no-mtab", *args], check=True)


def build_file_system(node_dir: Path, venv: Path, node_name: str, keep: list[Path]) -> Path:
    """The unit's view of the file system; returns the node's folder as the node sees it. ``keep``: folders under
    /home or /root the virtualenv needs (its interpreter, an editable checkout), left visible read-only there;
    on a server, the interpreter is Debian's /usr/bin/python3 and the code is installed in the virtualenv."""
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/srv")
    inside = Path("/srv/bigre") / node_name
    inside.mkdir(parents=True)
    mount("--bind", str(node_dir), str(inside))
    opt = Path("/opt/bigre/.venv")
    if not opt.exists():
        mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/opt")
        opt.mkdir(parents=True)
    mount("--bind", str(venv), str(opt))
    mount("-o", "remount,bind,ro", str(opt))
    mount("-o", "remount,bind,ro", "/")  # ProtectSystem=strict: the root file system, read-only
    mount("-o", "remount,bind,ro", "/srv")
    for private in ("/tmp", "/var/tmp"):  # PrivateTmp=yes
        mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", private)
    for home in ("/home", "/root"):  # ProtectHome=yes
        if not Path(home).is_dir():
            continue
        hidden = [path for path in keep if path.is_relative_to(home)]
        staged = Path("/tmp") / f"keep{len(home)}"
        for number, path in enumerate(hidden):  # reachable from the stage once home is covered
            (staged / str(number)).mkdir(parents=True)
            mount("--bind", str(path), str(staged / str(number)))
        mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", home)
        for number, path in enumerate(hidden):
            path.mkdir(parents=True)
            mount("--move", str(staged / str(number)), str(path))
            mount("-o", "remount,bind,ro", str(path))
        mount("-o", "remount,ro", home)
    return inside


def main(argv: list[str]) -> None:
    split = argv.index("--")
    unit, node_dir, venv, uid, gid, *keep = argv[1:split]
    command = argv[split + 1 :]
    settings = unit_settings(Path(unit))
    node = Path(node_dir)
    inside = build_file_system(node, Path(venv), node.name, [Path(k) for k in keep])
    os.chdir("/")
    os.setgroups([])
    os.setgid(int(gid))
    os.setuid(int(uid))
    os.umask(int(settings.get("UMask", ["0022"])[-1], 8))
    os.environ.update({"HOME": "/srv/bigre", "TMPDIR": "/tmp"})
    os.environ.pop("PYTHONPATH", None)
    load_filters(settings)  # last: loading it also sets no_new_privs (NoNewPrivileges=yes)
    command = [part.replace("{node}", str(inside)) for part in command]
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
