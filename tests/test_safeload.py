"""safeload: .npz files read with every size claim checked first; regular files only.

Hostile files are written by hand (``zip_bytes``) so that every number in them can
lie: the .npy header's shape, the zip member's declared size, its CRC, the central
directory.  Peak memory is measured twice: with tracemalloc in this process, and as
the peak RSS of a fresh process (the whole interpreter and NumPy count there).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest
from hostile_files import array_member, deflate, member, npy_header, zeros_stream, zip_bytes

from glassnet.errors import CheckpointError, DataFormatError, GlassnetError, ModelFormatError, ResourceLimitError
from glassnet.safeload import MAX_MEMBER_BYTES, check_regular_file, format_bytes, open_npz, open_regular_file, read_npz


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- what np.savez writes reads back the same ---------------------------------------------------
def arrays():
    rng = np.random.default_rng(0)
    return {
        "header": np.frombuffer(b'{"format": "x"}', np.uint8),
        "w0": rng.standard_normal((30, 784)),
        "b0": rng.standard_normal(30).astype(np.float32),
        "fortran": np.asfortranarray(rng.random((3, 4))),
        "empty": np.zeros((0, 5)),
        "scalar": np.float64(2.5),
        "big_endian": np.arange(5, dtype=">i4"),
        "flags": np.array([True, False]),
        "z": np.array([1 + 2j]),
    }


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_reads_what_numpy_writes(tmp_path, save):
    want = arrays()
    save(tmp_path / "a.npz", **want)
    got = read_npz(tmp_path / "a.npz")
    assert list(got) == list(want)
    for k, a in want.items():
        assert got[k].dtype == a.dtype and got[k].shape == np.shape(a), k
        np.testing.assert_array_equal(got[k], a)
    assert got["fortran"].flags.f_contiguous
    assert all(v.flags.writeable for v in got.values())


def test_large_real_model_fits_the_default_limits(tmp_path):
    """A 784-800-800-10 float64 network (about 11 MB) reads with the defaults."""
    rng = np.random.default_rng(1)
    sizes = [784, 800, 800, 10]
    want = {f"w{l}": rng.standard_normal((n, m)) for l, (m, n) in enumerate(zip(sizes, sizes[1:]))}
    np.savez_compressed(tmp_path / "m.npz", **want)
    got = read_npz(tmp_path / "m.npz", allowed=(np.float32, np.float64))
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_open_npz_checks_the_expected_shape_before_reading(tmp_path):
    np.savez(tmp_path / "a.npz", header=np.frombuffer(b"{}", np.uint8), w0=np.ones((30, 784), np.float32))
    with open_npz(tmp_path / "a.npz", what="glassnet model") as npz:
        assert npz.names == ["header", "w0"]
        assert npz.describe("w0") == ((30, 784), np.dtype(np.float32))
        assert npz.read("header", dtype=np.uint8).tobytes() == b"{}"
        assert npz.read("w0", shape=(30, 784)).sum() == 30 * 784
        with pytest.raises(
            ModelFormatError,
            match=r"a.npz: not a readable glassnet model \(array 'w0' has "
            r"shape \(30, 784\), expected \(20, 784\)\)",
        ):
            npz.read("w0", shape=(20, 784))
        with pytest.raises(ModelFormatError, match="array 'w0' is float32, expected float64"):
            npz.read("w0", dtype=np.float64)
        with pytest.raises(ResourceLimitError, match="more than the 1.0 KiB allowed"):
            npz.read("w0", max_bytes=1024)
        with pytest.raises(ModelFormatError, match="no array 'w9'"):
            npz.read("w9")


def test_error_class_and_wording_are_the_callers(tmp_path):
    path = write(tmp_path, "ck.npz", b"epoch 3\n")
    with pytest.raises(CheckpointError, match=r"^.*ck.npz: not a readable checkpoint \(not a zip file\)$"):
        read_npz(path, error=CheckpointError, what="checkpoint")
    assert issubclass(ResourceLimitError, GlassnetError) and issubclass(ModelFormatError, ValueError)


# -- hostile claims -----------------------------------------------------------------------------
HUGE = (40_000_000_000,)  # float64: 298 GiB


def hostile_files():
    """name -> (bytes, exception, message pattern)."""
    head = npy_header(HUGE)
    small = np.arange(10.0)
    good = array_member("ok", small)
    return {
        "npy-header-claims-298GiB": (
            zip_bytes(member("w0.npy", head + bytes(64))),
            ResourceLimitError,
            r"array 'w0' claims \(40000000000,\) float64 = 298 GiB, more than the "
            r"256 MiB allowed",
        ),
        "npy-header-claims-298GiB-stored": (zip_bytes(member("w0.npy", head, method=0)), ResourceLimitError, "298 GiB"),
        "npy-v2-header-claims-2D-huge": (
            zip_bytes(member("w0.npy", npy_header((2**20, 2**20), "<f4", version=(2, 0)))),
            ResourceLimitError,
            "4.0 TiB",
        ),
        "zero-dimension-beside-huge-ones": (
            zip_bytes(member("w0.npy", npy_header((0, 2**40, 2**40)))),
            ResourceLimitError,
            "zero dimensions are filled",
        ),
        "member-declares-4GiB": (
            zip_bytes(member("w0.npy", head, size=2**32 - 1)),
            ResourceLimitError,
            r"member 'w0.npy' declares 4.0 GiB, more than the 256 MiB",
        ),
        "members-declare-too-much-together": (
            zip_bytes(*[member(f"w{i}.npy", b"", size=200 << 20) for i in range(6)]),
            ResourceLimitError,
            "allowed per file",
        ),
        "directory-claims-a-million-entries": (
            zip_bytes(good, entries=65535),
            ResourceLimitError,
            "holds 65,535 members",
        ),
        "directory-claims-4GiB": (
            zip_bytes(good, directory_size=2**32 - 1),
            ResourceLimitError,
            "zip directory claims 4.0 GiB",
        ),
        "declared-small-inflates-beyond": (
            zip_bytes(
                member(
                    "w0.npy",
                    npy_header((10,)) + bytes(80),
                    size=128 + 80,
                    raw=deflate(npy_header((10,)) + bytes(10**6)),
                )
            ),
            ModelFormatError,
            "inflates beyond its declared 208 bytes",
        ),
        "header-shape-disagrees-with-declared-size": (
            zip_bytes(member("w0.npy", npy_header((10**6,)) + bytes(80))),
            ModelFormatError,
            "but the member declares 80",
        ),
        "object-array": (
            zip_bytes(member("w0.npy", npy_header((3,), "|O") + b"\x80\x04N.")),
            ModelFormatError,
            "holds pickled objects",
        ),
        "structured-dtype-with-object": (
            zip_bytes(member("w0.npy", npy_header((1,), [("a", "|O")]) + bytes(8))),
            ModelFormatError,
            "pickled objects",
        ),
        "string-dtype": (
            zip_bytes(array_member("w0", np.array(["ab"]))),
            ModelFormatError,
            "dtype <U2, not a plain number type",
        ),
        "negative-shape": (zip_bytes(member("w0.npy", npy_header((-5,)))), ModelFormatError, "negative dimension"),
        "bad-npy-magic": (
            zip_bytes(member("w0.npy", b"\x93NUMPZ\x01\x00" + bytes(100))),
            ModelFormatError,
            "no valid .npy header",
        ),
        "npy-header-length-lies": (
            zip_bytes(member("w0.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31))),
            ModelFormatError,
            "no valid .npy header",
        ),
        "npy-header-is-code": (
            zip_bytes(member("w0.npy", b"\x93NUMPY\x01\x00\x20\x00" + b"__import__('os')".ljust(31) + b"\n")),
            ModelFormatError,
            "no valid .npy header",
        ),
        "npy-version-3": (
            zip_bytes(member("w0.npy", b"\x93NUMPY\x03\x00" + bytes(20))),
            ModelFormatError,
            "no valid .npy header",
        ),
        "truncated-data": (
            zip_bytes(member("w0.npy", npy_header((10,)) + bytes(40), size=128 + 80)),
            ModelFormatError,
            "cut short|inflates|damaged",
        ),
        "truncated-deflate-stream": (
            zip_bytes(member("w0.npy", npy_header((10,)) + bytes(80), raw=deflate(npy_header((10,)) + bytes(80))[:-3])),
            ModelFormatError,
            "cut short|damaged",
        ),
        "garbage-deflate": (
            zip_bytes(member("w0.npy", bytes(208), raw=b"\xff" * 64)),
            ModelFormatError,
            "damaged deflate data|no valid",
        ),
        "bad-crc": (zip_bytes(array_member("w0", small, crc=1234)), ModelFormatError, "CRC-32 mismatch"),
        "stored-longer-than-declared": (
            zip_bytes(member("w0.npy", npy_header((10,)) + bytes(80), method=0, raw=npy_header((10,)) + bytes(81))),
            ModelFormatError,
            "inflates beyond",
        ),
        "not-npy-member": (zip_bytes(member("notes.txt", b"hello")), ModelFormatError, "not an .npy array"),
        "member-twice": (zip_bytes(good, good), ModelFormatError, "appears twice"),
        "encrypted": (zip_bytes(array_member("w0", small, flags=1)), ModelFormatError, "encrypted"),
        "bzip2-member": (
            zip_bytes(array_member("w0", small, method=12, raw=b"BZh9")),
            ModelFormatError,
            "compression method 12",
        ),
        "lzma-member": (
            zip_bytes(array_member("w0", small, method=14, raw=b"\x09\x14")),
            ModelFormatError,
            "compression method 14",
        ),
        "local-header-missing": (zip_bytes(good)[30:], ModelFormatError, "not a readable"),
        "empty-file": (b"", ModelFormatError, "not a zip file"),
        "text": (b"weights: lots\n", ModelFormatError, "not a zip file"),
    }


@pytest.mark.parametrize("name", list(hostile_files()))
def test_hostile_files_are_refused_in_one_line_without_allocating(tmp_path, name):
    data, exc, pattern = hostile_files()[name]
    path = write(tmp_path, "bad.npz", data)
    tracemalloc.start()
    try:
        with pytest.raises(exc, match=pattern) as info:
            read_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert peak < 4 << 20, f"{name}: peak {peak:,} bytes"


def test_limits_are_parameters(tmp_path):
    np.savez(tmp_path / "a.npz", w=np.zeros(1000), b=np.zeros(1000))
    assert read_npz(tmp_path / "a.npz", max_member_bytes=8200)["w"].shape == (1000,)
    with pytest.raises(ResourceLimitError, match="allowed per array"):
        read_npz(tmp_path / "a.npz", max_member_bytes=8000)
    with pytest.raises(ResourceLimitError, match="allowed per file"):
        read_npz(tmp_path / "a.npz", max_bytes=10_000)
    with pytest.raises(ResourceLimitError, match="holds 2 members, more than the 1 allowed"):
        read_npz(tmp_path / "a.npz", max_members=1)
    with pytest.raises(ModelFormatError, match="dtype float64; allowed: float32"):
        read_npz(tmp_path / "a.npz", allowed=[np.float32])
    assert MAX_MEMBER_BYTES == 256 << 20 and format_bytes(298 * 2**30) == "298 GiB"


# -- peak RSS of a fresh process ----------------------------------------------------------------
# VmHWM, the peak RSS of this process's own memory: ru_maxrss would also count what the parent
# (pytest, with MNIST loaded by other tests) held when it forked, since Linux keeps it across exec
PEAK_SCRIPT = textwrap.dedent("""
    import re, sys
    from glassnet.safeload import read_npz
    try:
        read_npz(sys.argv[1], max_member_bytes=int(sys.argv[2]))
        print("read", end=" ")
    except Exception as e:
        print(type(e).__name__, end=" ")
    with open("/proc/self/status") as f:
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) * 1024)
""")


def peak_rss(path, max_member_bytes):
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path), str(max_member_bytes)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    outcome, peak = done.stdout.split()
    return outcome, int(peak)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 512 MiB float64 array of zeros in a 0.5 MB deflated member, honest or lying about its size."""
    n = 512 << 20
    head = npy_header((n // 8,))
    raw, crc = zeros_stream(head, n)
    folder = tmp_path_factory.mktemp("bomb")
    honest = write(folder, "honest.npz", zip_bytes(member("w0.npy", b"", size=len(head) + n, crc=crc, raw=raw)))
    lying = write(folder, "lying.npz", zip_bytes(member("w0.npy", b"", size=len(head) + 80, crc=crc, raw=raw)))
    claims = write(folder, "claims.npz", zip_bytes(member("w0.npy", npy_header((40_000_000_000,)) + bytes(800))))
    return honest, lying, claims, len(raw)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
def test_peak_rss_stays_under_100MB_for_bombs_and_huge_claims(bomb):
    honest, lying, claims, compressed = bomb
    assert compressed < 1 << 20
    for path, limit, outcome in [
        (honest, MAX_MEMBER_BYTES, "ResourceLimitError"),
        (lying, 1 << 40, "ModelFormatError"),
        (claims, MAX_MEMBER_BYTES, "ResourceLimitError"),
        (claims, 1 << 40, "ModelFormatError"),
    ]:  # its declared size gives it away
        got, peak = peak_rss(path, limit)
        assert got == outcome, (path.name, limit, got)
        assert peak < 100 << 20, f"{path.name}: peak RSS {peak / 2**20:.0f} MiB"


# -- regular files only -------------------------------------------------------------------------
def test_fifo_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    link = tmp_path / "link.npz"
    link.symlink_to(fifo)
    result = {}

    def attempt():
        for p in (fifo, link):
            try:
                read_npz(p)
            except ModelFormatError as e:
                result[p.name] = str(e)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the thread: a writer opens the FIFO
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO blocked")
    assert result == {
        "model.npz": f"{fifo}: is a named pipe (FIFO), not a regular file",
        "link.npz": f"{link}: is a named pipe (FIFO), not a regular file",
    }


def test_directories_devices_sockets_and_missing_files(tmp_path):
    with pytest.raises(DataFormatError, match="is a directory, not a regular file"):
        check_regular_file(tmp_path)
    with pytest.raises(ModelFormatError, match="/dev/zero: is a character device"):
        read_npz("/dev/zero")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s.npz"))
        with pytest.raises(DataFormatError, match="is a socket"):
            open_regular_file(tmp_path / "s.npz")
    finally:
        sock.close()
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "absent.npz")
    path = write(tmp_path, "f.bin", b"abc")
    assert check_regular_file(path).st_size == 3
    with open_regular_file(path) as f:
        assert f.read() == b"abc" and os.get_blocking(f.fileno())


def test_a_file_swapped_for_a_fifo_after_the_check_is_refused_by_fstat(tmp_path, monkeypatch):
    import glassnet.safeload as safeload

    fifo = tmp_path / "swap"
    os.mkfifo(fifo)
    monkeypatch.setattr(safeload, "check_regular_file", lambda path, error: None)  # the race, won
    with pytest.raises(DataFormatError, match="swap: is a named pipe"):
        open_regular_file(fifo)


def test_zipfile_itself_agrees_the_files_are_well_formed(tmp_path):
    """The hand-written zips are real zips: zipfile reads an honest one."""
    a = np.arange(10.0)
    path = write(tmp_path, "ok.npz", zip_bytes(array_member("a", a), array_member("b", a, method=0)))
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    np.testing.assert_array_equal(np.load(path)["a"], a)
    np.testing.assert_array_equal(read_npz(path)["b"], a)


def test_random_damage_only_ever_raises_glassnets_errors(tmp_path):
    """1,500 seeded random mutations of two small .npz files (bytes changed, sizes and offsets
    set to extremes, spans cut out): each reads or raises a GlassnetError, nothing else."""
    import io
    import random

    from glassnet.errors import GlassnetError

    originals = []
    for save in (np.savez, np.savez_compressed):
        buf = io.BytesIO()
        save(buf, header=np.frombuffer(b'{"a": 1}', np.uint8), w0=np.ones((3, 4), np.float32), b0=np.zeros(3))
        originals.append(buf.getvalue())
    rng = random.Random(0)
    extremes = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff\xff\xff\x7f", struct.pack("<Q", 2**64 - 1)]
    path = tmp_path / "damaged.npz"
    outcomes = {"read": 0, "refused": 0}
    for _ in range(1500):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            k, r = rng.randrange(len(data)), rng.random()
            if r < 0.6:
                data[k] = rng.randrange(256)
            elif r < 0.9:
                extreme = rng.choice(extremes)
                data[k : k + len(extreme)] = extreme
            else:
                del data[k : k + rng.randint(1, 50)]
        path.write_bytes(data)
        try:
            read_npz(path)
            outcomes["read"] += 1
        except GlassnetError as e:
            assert "\n" not in str(e) and str(e).startswith(str(path)), e
            outcomes["refused"] += 1
    assert outcomes["refused"] > 1000 and outcomes["read"] > 0, outcomes


PREDICT_SCRIPT = textwrap.dedent("""
    import re, sys
    from glassnet.cli import main
    code = main(["predict", sys.argv[1], "digit.png"])
    with open("/proc/self/status") as f:
        print(code, int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) * 1024)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
def test_glassnet_predict_on_a_crafted_model_stays_under_100MB(tmp_path):
    """A model file whose header claims a 784-60000-10 network (188 MB of float32 weights) and
    whose w0 is a 190 KB deflated stream of zeros: refused before it is inflated (glassnet
    writes its arrays uncompressed; a member may inflate at most 16x), in one line, exit 2."""
    import json

    n = 60000 * 784 * 4
    head = npy_header((60000, 784), "<f4")
    raw, crc = zeros_stream(head, n)
    header = json.dumps(
        {"format": "glassnet-model", "format_version": 1, "sizes": [784, 60000, 10], "dtype": "float32"}
    ).encode()
    path = write(
        tmp_path,
        "crafted.npz",
        zip_bytes(
            array_member("header", np.frombuffer(header, np.uint8)),
            member("w0.npy", b"", size=len(head) + n, crc=crc, raw=raw),
        ),
    )
    assert path.stat().st_size < 1 << 20
    done = subprocess.run(
        [sys.executable, "-c", PREDICT_SCRIPT, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    code, peak = done.stdout.split()
    assert code == "2" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "would inflate" in done.stderr
    assert int(peak) < 100 << 20, f"peak RSS {int(peak) / 2**20:.0f} MiB"
