"""A private OpenSSH server on 127.0.0.1 that plays the board for ``plutflow deploy``
(tests/test_deploy.py and the hardening table): its own host key, client key and
known_hosts, host-key checking on. Installs openssh-server with apt when sshd is missing
and this user is root."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from plutflow.board.deploy import SshTarget


class SshdError(RuntimeError):
    """sshd is missing and cannot be installed, or did not start."""


class SshdUnavailable(SshdError):
    """sshd is not installed and this user may not install it (not root): the deploy
    tests skip, saying so (CI runs as root and installs it)."""


def sshd_binary() -> str:
    path = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if path:
        return path
    if os.geteuid() != 0:
        raise SshdUnavailable("sshd is missing and this user cannot install openssh-server "
                              "(not root); install it to run the deploy tests")  # fmt: skip
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server"], check=True, env=env,
                   capture_output=True)  # fmt: skip
    return shutil.which("sshd") or "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackSshd:
    """``with LoopbackSshd(d) as (target, board):`` an sshd on 127.0.0.1 for this user;
    ``board`` is a directory to deploy into."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> tuple[SshTarget, Path]:
        d, binary = self.dir, sshd_binary()
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                           check=True)  # fmt: skip
        (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
        os.chmod(d / "authorized_keys", 0o600)
        port, user = _free_port(), getpass.getuser()
        config = d / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
            f"PidFile {d / 'sshd.pid'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "Subsystem sftp internal-sftp\n"
            f"PermitRootLogin prohibit-password\nAllowUsers {user}\n"
            f"SetEnv PATH={os.environ.get('PATH', '/usr/bin:/bin')}\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        self.proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                    self.__exit__()
                    raise SshdError(f"sshd did not start: {out}") from None
                time.sleep(0.1)
        known = d / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {(d / 'host_key.pub').read_text()}")
        board = d / "board"
        board.mkdir(exist_ok=True)
        return SshTarget(f"{user}@127.0.0.1", port, str(d / "client_key"), str(known)), board

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
