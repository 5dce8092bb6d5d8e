"""``plutflow deploy``: copy an artifact (and the overlay) to a board over SSH, verify the
checksums on the board, run the board self-test there and report.

Uses the system OpenSSH client (``ssh``/``scp``) in batch mode with strict host-key
checking: an unknown or changed host key stops the deployment.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from plutflow.errors import PlutflowError


class DeployError(PlutflowError):
    """Copying, verification or the remote self-test failed."""


@dataclass
class SshTarget:
    board: str  # user@host
    port: int = 22
    identity: str | None = None
    known_hosts: str | None = None
    timeout_s: float = 600.0

    def options(self) -> list[str]:
        opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20"]
        if self.identity:
            opts += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        return opts

    def ssh(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["ssh", *self.options(), "-p", str(self.port), self.board, command],
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
        )
        if check and proc.returncode != 0:
            raise DeployError(
                f"ssh {self.board} '{command}' failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def copy(self, files: list[Path], remote_dir: str) -> None:
        proc = subprocess.run(
            [
                "scp",
                *self.options(),
                "-P",
                str(self.port),
                "-q",
                *[str(f) for f in files],
                f"{self.board}:{remote_dir}/",
            ],
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
        )
        if proc.returncode != 0:
            raise DeployError(f"scp to {self.board}:{remote_dir} failed: {proc.stderr.strip()}")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deploy(
    target: SshTarget,
    artifact: Path,
    remote_dir: str,
    bitfile: Path | None = None,
    backend: str = "pynq",
    remote_python: str = "python3",
    images: int = 16,
    log=print,
) -> int:
    """Copy, verify, self-test. Returns the remote self-test's exit code."""
    files = [Path(artifact)]
    if bitfile is not None:
        bit = Path(bitfile)
        files += [bit, bit.with_suffix(".hwh")]
    for f in files:
        if not f.is_file():
            raise DeployError(f"{f} not found")
    q = shlex.quote
    target.ssh(f"mkdir -p {q(remote_dir)}")
    target.copy(files, remote_dir)
    log(f"copied {', '.join(f.name for f in files)} to {target.board}:{remote_dir}")
    names = " ".join(q(f.name) for f in files)
    out = target.ssh(f"cd {q(remote_dir)} && sha256sum {names}").stdout
    remote = {line.split()[1]: line.split()[0] for line in out.splitlines() if line.strip()}
    bad = [f.name for f in files if remote.get(f.name) != sha256(f)]
    if bad:
        raise DeployError(f"checksum mismatch on the board for {', '.join(bad)}")
    log(f"checksums verified on the board ({len(files)} files, SHA-256)")
    cmd = (
        f"cd {q(remote_dir)} && {remote_python} -m plutflow selftest "
        f"--artifact {q(files[0].name)} --backend {q(backend)} --images {int(images)}"
    )
    if bitfile is not None:
        cmd += f" --bitfile {q(files[1].name)}"
    proc = target.ssh(cmd, check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        log(f"[board] {line}")
    return proc.returncode
