"""The launcher's uid work (challenge/runner/uids.py) in a real container started as the
trust boundary needs it: root with only SETUID, SETGID and KILL, no-new-privileges."""

import json
from pathlib import Path

import docker
import pytest

from challenge.runner import uids

pytestmark = pytest.mark.docker

PROBE = r'''
import ctypes, json, os, signal, threading, time

SYS_exit = 60  # x86-64: ends the calling thread only (exit_group ends them all)
out = {}
with open("/work/.key", "w") as handle:
    handle.write("secret")
os.chmod("/work/.key", 0o400)
a_uid, b_uid = candidate_uid(0), candidate_uid(1)
read_a, write_a = os.pipe()

a = os.fork()
if a == 0:  # candidate A: a thread group whose leader exits, the rest spinning on
    drop_to(a_uid)
    os.close(read_a)
    with open(os.path.join(own_dir("/tmp/c0"), "mine"), "w") as handle:
        handle.write("ok")
    threading.Thread(target=lambda: [time.sleep(0.01) for _ in iter(int, 1)]).start()
    os.write(write_a, b"x")
    ctypes.CDLL(None).syscall(SYS_exit, 0)
os.close(write_a)
os.read(read_a, 1)
time.sleep(0.2)
out["a_live_before"] = len(live_tasks(a_uid))
with open(f"/proc/{a}/status") as handle:
    out["a_leader_state"] = [l for l in handle.read().splitlines() if l.startswith("State")][0]

b = os.fork()
if b == 0:  # candidate B: tries what a hostile answer would
    drop_to(b_uid)
    tried = {}
    for name, attempt in [
        ("kill_a", lambda: os.kill(a, signal.SIGKILL)),
        ("kill_launcher", lambda: os.kill(os.getppid(), signal.SIGKILL)),
        ("read_key", lambda: open("/work/.key").read()),
        ("launcher_environ", lambda: open(f"/proc/{os.getppid()}/environ").read()),
        ("launcher_mem", lambda: open(f"/proc/{os.getppid()}/mem", "rb").read(1)),
        ("a_files", lambda: os.listdir("/tmp/c0")),
        ("back_to_root", lambda: os.setuid(0)),
    ]:
        try:
            attempt()
            tried[name] = "allowed"
        except PermissionError:
            tried[name] = "refused"
        except OSError as exc:
            tried[name] = f"error {exc.errno}"
    print(json.dumps(tried), flush=True)
    os._exit(0)
os.waitpid(b, 0)
out["a_alive_after_b"] = len(live_tasks(a_uid)) > 0
out["survivors"] = sweep(a_uid)
out["a_live_after_sweep"] = len(live_tasks(a_uid))
out["empty_sweep"] = sweep(candidate_uid(2))
os.waitpid(a, 0)
print(json.dumps(out), flush=True)
'''


def test_candidates_are_fenced_from_each_other_and_swept_to_the_last_thread(
        sandbox_image: str) -> None:
    source = Path(uids.__file__).read_text() + "\n" + PROBE
    client = docker.from_env()
    try:
        output = client.containers.run(
            sandbox_image, ["python3", "-I", "-c", source], remove=True, user="0",
            cap_drop=["ALL"], cap_add=["SETUID", "SETGID", "KILL"],
            security_opt=["no-new-privileges"], network_mode="none", read_only=True,
            tmpfs={"/work": "rw,mode=1777,size=16m", "/tmp": "rw,mode=1777,size=16m"},
            pids_limit=64, mem_limit="256m")
    finally:
        client.close()
    lines = output.decode().strip().splitlines()
    tried, facts = json.loads(lines[0]), json.loads(lines[-1])
    assert tried == {"kill_a": "refused", "kill_launcher": "refused", "read_key": "refused",
                     "launcher_environ": "refused", "launcher_mem": "refused",
                     "a_files": "refused", "back_to_root": "refused"}
    # the positive control: a zombie-looking thread group of A was alive before the sweep
    assert facts["a_leader_state"].split()[1] == "Z" and facts["a_live_before"] >= 1
    assert facts["a_alive_after_b"]
    assert facts["survivors"] == 0 and facts["a_live_after_sweep"] == 0
    assert facts["empty_sweep"] == 0


def test_slots_map_to_their_own_uids() -> None:
    assert uids.candidate_uid(0) == 61000 and uids.candidate_uid(15) == 61015
    assert uids.TRUSTED_UID not in {uids.candidate_uid(k) for k in range(1000)}
    with pytest.raises(ValueError):
        uids.candidate_uid(-1)
