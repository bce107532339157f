#!/usr/bin/env python3
"""Interop: Debian's json + numpy read a file gd_fisher_save wrote, and
gdropout-plan reads a safetensors file written here the way the safetensors
package writes them (header sorted, padded to 8, 2-D shapes).

    check_safetensors.py FIXTURE.safetensors GDROPOUT_PLAN WORK_DIR
Exit 77 (skip) when numpy is missing."""
import json
import os
import struct
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("numpy not available: skipped")
    sys.exit(77)


def read_safetensors(path):
    with open(path, "rb") as fp:
        blob = fp.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = arr
    return meta, tensors, len(data)


def check_fixture(path):
    meta, t, size = read_safetensors(path)
    assert meta["gdropout.format"] == "fisher-1", meta
    want = {
        "embeddings.word.weight": ([1, 2, 3, 4], "0", "1"),
        "embeddings.norm.weight": ([0.5, 0.5], "0", "2"),
        "encoder.0.attn.q.weight": ([8, 8, 8, 8], "1", "1"),
        "encoder.0.attn.q.bias": ([2, 2], "1", "1"),
        "encoder.0.ffn.weight": ([0.3, 0.3, 0.3], "3", "1"),
        "pooler.weight": ([5, 5], "none", "1"),
    }
    assert set(t) == set(want), sorted(t)
    for name, (values, site, weight) in want.items():
        assert np.array_equal(t[name], np.array(values, dtype=np.float32)), (name, t[name])
        assert meta["gdropout.site." + name] == site, name
        assert meta["gdropout.weight." + name] == weight, name
    assert size == 4 * sum(len(v[0]) for v in want.values())


def write_like_safetensors(path, tensors, metadata):
    """Header keys sorted, offsets in that order, padded with spaces to 8."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fp:
        fp.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def check_tool_reads_python_file(tool, work):
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "python.safetensors")
    rng = np.random.default_rng(5)
    tensors = {
        "z.layer.weight": np.full((2, 3), 4.0, dtype=np.float32),  # site 0, score 4
        "a.layer.weight": np.full((3, 2), 1.0, dtype=np.float32),  # site 1, score 1
        "m.layer.weight": (rng.random((4, 4)) * 0 + 2.0).astype(np.float32),  # site 2
    }
    meta = {"gdropout.format": "fisher-1", "gdropout.site.z.layer.weight": "0",
            "gdropout.site.a.layer.weight": "1", "gdropout.site.m.layer.weight": "2",
            "note": "written by numpy"}
    write_like_safetensors(path, tensors, meta)
    out = os.path.join(work, "python.plan")
    subprocess.run([tool, "-q", "--p-max", "0.2", "-o", out, path], check=True)
    rows = [line.split() for line in open(out) if not line.startswith("#")]
    probs = {int(r[0]): float(r[3]) for r in rows}
    # ranks by score: site 1 (1) -> 0.2, site 2 (2) -> 0.1, site 0 (4) -> 0
    want = {0: 0.0, 1: np.float32(0.2), 2: np.float32(0.1)}
    for k, v in want.items():
        assert np.float32(probs[k]) == np.float32(v), (k, probs[k], v)
    names = {int(r[0]): r[1] for r in rows}
    assert names == {0: "z.layer.weight", 1: "a.layer.weight", 2: "m.layer.weight"}, names


def main():
    fixture, tool, work = sys.argv[1:4]
    check_fixture(fixture)
    check_tool_reads_python_file(tool, work)
    print("safetensors interop with json + numpy %s: ok" % np.__version__)


if __name__ == "__main__":
    main()
