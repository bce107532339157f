"""The ctypes prototypes against the public headers: every GD_API function
is declared, with the same number and kinds of parameters and result."""

import ctypes
import os
import re
import unittest

from gdropout import _native

from .helpers import HEADER_DIR

_DECL = re.compile(r"GD_API\s+(?:GD_NODISCARD\s+)?([^;]*?)\b(gd_\w+)\s*\(([^)]*)\)\s*;", re.S)


def header_functions():
    """{name: (result type, [parameter types])} from include/gdropout/*.h."""
    out = {}
    for fn in sorted(os.listdir(HEADER_DIR)):
        if fn.endswith(".h"):
            with open(os.path.join(HEADER_DIR, fn), encoding="utf-8") as f:
                text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
            for res, name, params in _DECL.findall(text):
                ps = [p.strip() for p in params.split(",")]
                out[name] = (res.strip(), [] if ps == ["void"] else ps)
    return out


_C_TYPES = {"void": None, "int": ctypes.c_int, "unsigned": ctypes.c_uint,
            "size_t": ctypes.c_size_t, "float": ctypes.c_float, "double": ctypes.c_double,
            "uint64_t": ctypes.c_uint64}


def kind_of_c(decl):
    """A parameter or result declaration reduced to what ctypes sees: "ptr"
    or the ctypes scalar type (c_size_t and c_uint64 coincide where size_t
    is 64 bits, and differ where it matters)."""
    words = re.sub(r"\b(const|struct)\b", " ", decl).split()
    if "*" in decl or "[" in decl or words[0].endswith("_fn"):  # gd_sgemm_fn: a pointer
        return "ptr"
    return _C_TYPES[words[0]]


def kind_of_ctypes(t):
    if t in (ctypes.c_void_p, ctypes.c_char_p) or (isinstance(t, type) and
                                                   issubclass(t, ctypes._Pointer)):
        return "ptr"
    return t


@unittest.skipUnless(os.path.isdir(HEADER_DIR), "not run from a source tree")
class PrototypesMatchHeader(unittest.TestCase):
    def test_same_functions(self):
        h = header_functions()
        self.assertGreater(len(h), 40)
        self.assertEqual(sorted(h), sorted(_native.PROTOTYPES))

    def test_same_signatures(self):
        for name, (res, params) in header_functions().items():
            with self.subTest(name):
                cres, cargs = _native.PROTOTYPES[name]
                # const char * results are c_char_p: a pointer
                self.assertEqual(kind_of_c(res), kind_of_ctypes(cres))
                self.assertEqual([kind_of_c(p) for p in params],
                                 [kind_of_ctypes(a) for a in cargs])


if __name__ == "__main__":
    unittest.main()
