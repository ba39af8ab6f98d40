"""CPU set-up before paddle is imported: what is set, what the user's own settings keep."""
from paddle_gan import runtime


def test_sets_threads_mkl_and_malloc_when_unset(monkeypatch):
    monkeypatch.setattr(runtime, "_is_amd", lambda: True)
    environ = {}
    notes = runtime.configure_cpu_environment(environ)
    assert int(environ["OMP_NUM_THREADS"]) >= 1
    assert environ["MKL_DEBUG_CPU_TYPE"] == "5"
    assert any("glibc keeps freed memory" in note for note in notes)
    assert len(notes) == 3


def test_the_launchers_processes_share_the_cores(monkeypatch):
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(8)))
    for local, threads in (("1", "8"), ("2", "4"), ("3", "2"), ("16", "1")):
        environ = {"PADDLE_LOCAL_SIZE": local}
        notes = runtime.configure_cpu_environment(environ)
        assert environ["OMP_NUM_THREADS"] == threads
        assert ("shared by the launcher's" in notes[0]) == (local != "1")


def test_keeps_what_the_user_set(monkeypatch):
    monkeypatch.setattr(runtime, "_is_amd", lambda: True)
    called = []
    monkeypatch.setattr(runtime, "keep_freed_memory", lambda: called.append(1) or True)
    environ = {"OMP_NUM_THREADS": "1", "MKL_DEBUG_CPU_TYPE": "4", "MALLOC_MMAP_THRESHOLD_": "0"}
    assert runtime.configure_cpu_environment(environ) == []
    assert environ == {"OMP_NUM_THREADS": "1", "MKL_DEBUG_CPU_TYPE": "4",
                       "MALLOC_MMAP_THRESHOLD_": "0"}
    assert called == []


def test_no_mkl_setting_on_other_cpus(monkeypatch):
    monkeypatch.setattr(runtime, "_is_amd", lambda: False)
    environ = {}
    runtime.configure_cpu_environment(environ)
    assert "MKL_DEBUG_CPU_TYPE" not in environ


def test_keep_freed_memory_says_false_without_glibc(monkeypatch):
    monkeypatch.setattr(runtime.ctypes.util, "find_library", lambda name: "no-such-libc.so")
    assert runtime.keep_freed_memory() is False


def test_rank_and_writer(monkeypatch):
    monkeypatch.setenv("PADDLE_TRAINER_ID", "1")
    assert runtime.rank() == 1 and not runtime.is_writer()
    monkeypatch.delenv("PADDLE_TRAINER_ID")
    assert runtime.rank() == 0 and runtime.is_writer()
