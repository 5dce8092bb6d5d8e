"""``plutflow deploy`` against a real OpenSSH server on 127.0.0.1: a temporary directory
plays the board, the sim backend runs the board-side self-test. The test installs
(openssh-server, with apt, when sshd is missing and we are root) and starts sshd itself,
with its own host key, client key and known_hosts; host-key checking stays on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plutflow.board.deploy import DeployError, SshTarget, deploy
from plutflow.board.selftest import bundled_artifact
from plutflow.cli import main as cli_main

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from sshd_loopback import LoopbackSshd, SshdError, SshdUnavailable


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A private sshd on 127.0.0.1; yields (SshTarget, board directory)."""
    try:
        with LoopbackSshd(tmp_path_factory.mktemp("ssh")) as (target, board):
            yield target, board
    except SshdUnavailable as exc:  # a non-root user without sshd; CI (root) installs it
        pytest.skip(str(exc))
    except SshdError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("art") / "demo.pfa"
    return bundled_artifact().save(path)


def test_deploy_copies_verifies_and_selftests(sshd, artifact, capsys) -> None:
    target, board = sshd
    code = cli_main(
        [
            "deploy",
            str(artifact),
            "--board",
            target.board,
            "--port",
            str(target.port),
            "--identity",
            target.identity,
            "--known-hosts",
            target.known_hosts,
            "--remote-dir",
            str(board),
            "--remote-python",
            sys.executable,
            "--backend",
            "sim",
            "--images",
            "4",
        ]
    )
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err
    assert "checksums verified on the board" in out
    assert "[board] PASS 4 inputs bit-exact with golden" in out
    assert "deployment succeeded" in out
    assert (board / "demo.pfa").read_bytes() == artifact.read_bytes()


def test_unknown_host_key_stops_the_deployment(sshd, artifact, tmp_path) -> None:
    target, board = sshd
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    bad = SshTarget(target.board, target.port, target.identity, str(empty))
    with pytest.raises(DeployError, match="Host key verification failed"):
        deploy(bad, artifact, str(board / "x"), backend="sim", remote_python=sys.executable)


def test_missing_file_is_refused_before_connecting(sshd, tmp_path) -> None:
    target, board = sshd
    with pytest.raises(DeployError, match="not found"):
        deploy(target, tmp_path / "none.pfa", str(board), backend="sim")


def test_hostile_names_stay_literal(sshd, artifact, tmp_path) -> None:
    """Shell metacharacters in the remote directory and an artifact named like an ssh
    option are copied as names: nothing runs, on the board or here."""
    target, board = sshd
    odd = tmp_path / "-oProxyCommand=touch PWNED_LOCAL.pfa"
    odd.write_bytes(artifact.read_bytes())
    remote = board / "a dir; touch PWNED_REMOTE $(touch PWNED_SUBST)"
    deploy(target, odd, str(remote), backend="sim", remote_python=sys.executable,
           log=lambda s: None)  # fmt: skip
    assert (remote / odd.name).read_bytes() == artifact.read_bytes()
    for leftover in ("PWNED_LOCAL", "PWNED_REMOTE", "PWNED_SUBST"):
        assert not list(Path("/").glob(f"*/{leftover}*")) and not Path(leftover).exists()
        assert not list(board.glob(f"**/{leftover}"))


def test_remote_python_is_one_word(sshd, artifact) -> None:
    target, board = sshd
    python = f"{sys.executable}; touch {board}/INJECTED"
    code = deploy(target, artifact, str(board / "p"), backend="sim", remote_python=python,
                  log=lambda s: None)  # fmt: skip
    assert code != 0 and not (board / "INJECTED").exists()


def test_failed_verification_keeps_the_working_copy(sshd, artifact, monkeypatch) -> None:
    import plutflow.board.deploy as dep

    target, board = sshd
    remote = board / "keep"
    deploy(target, artifact, str(remote), backend="sim", remote_python=sys.executable,
           log=lambda s: None)  # fmt: skip
    before = (remote / artifact.name).read_bytes()
    monkeypatch.setattr(dep, "sha256", lambda path: "0" * 64)  # as if the upload broke
    with pytest.raises(DeployError, match="checksum mismatch"):
        deploy(target, artifact, str(remote), backend="sim", remote_python=sys.executable,
               log=lambda s: None)  # fmt: skip
    assert (remote / artifact.name).read_bytes() == before
    assert sorted(p.name for p in remote.iterdir()) == [artifact.name]  # no temp left


def test_timeouts_and_missing_ssh_are_errors(sshd, monkeypatch) -> None:
    target, _ = sshd
    slow = SshTarget(target.board, target.port, target.identity, target.known_hosts,
                     timeout_s=1)  # fmt: skip
    with pytest.raises(DeployError, match="timed out"):
        slow.ssh("sleep 5")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DeployError, match="ssh is not installed"):
        target.ssh("true")


def test_remote_paths_are_quoted_and_tilde_is_home() -> None:
    from plutflow.board.deploy import remote_path

    assert remote_path("~") == '"$HOME"'
    assert remote_path("~/plut flow", "a.pfa") == "\"$HOME\"/'plut flow'/a.pfa"
    assert remote_path("/x;y", "-o.pfa") == "'/x;y'/-o.pfa"


def test_a_self_test_past_the_timeout_is_stopped_on_the_board(sshd, artifact, tmp_path) -> None:
    target, board = sshd
    hang = tmp_path / "hanging-python"  # stands in for a self-test that never ends
    hang.write_text("#!/bin/sh\nsleep 60 &\nwait\n")
    hang.chmod(0o755)
    slow = SshTarget(target.board, target.port, target.identity, target.known_hosts,
                     timeout_s=3)  # fmt: skip
    remote = board / "hang"
    with pytest.raises(DeployError, match="ran past 3 s; stopped it on the board") as err:
        deploy(slow, artifact, str(remote), backend="sim", remote_python=str(hang),
               log=lambda s: None)  # fmt: skip
    group = int(str(err.value).rsplit(" ", 1)[1].rstrip(")"))
    left = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True)
    assert left.returncode == 1 and left.stdout == ""  # the self-test and its child are gone
    assert not (remote / ".plutflow-selftest.pid").exists()


def test_a_user_without_sshd_who_cannot_install_it_gets_a_skip_reason(monkeypatch) -> None:
    import sshd_loopback

    monkeypatch.setattr(sshd_loopback.shutil, "which", lambda name: None)
    monkeypatch.setattr(sshd_loopback.Path, "exists", lambda self: False)
    monkeypatch.setattr(sshd_loopback.os, "geteuid", lambda: 1000)
    with pytest.raises(SshdUnavailable, match="not root"):
        sshd_loopback.sshd_binary()
