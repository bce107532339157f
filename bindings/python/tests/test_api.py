"""The public API is documented and typed: every public name of gdropout,
gdropout.reference and gdropout.torch (when torch is installed) has a
docstring, and every public function and method annotates its parameters
and its return type (the package ships py.typed; CI runs Debian's mypy)."""

import enum
import importlib
import inspect
import os
import unittest

import gdropout

MODULES = ["gdropout", "gdropout.reference"]
try:
    import torch  # noqa: F401
    MODULES.append("gdropout.torch")
except ImportError:
    pass


def public_members(cls):
    """The public methods and properties a class defines itself (inherited
    ones are checked where they are defined, if that is this package)."""
    for name, v in vars(cls).items():
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property):
            v = v.fget
        if inspect.isfunction(v):
            yield name, v


def ours(obj):
    return (getattr(obj, "__module__", "") or "").startswith("gdropout")


class PublicApiTest(unittest.TestCase):
    def names(self):
        for modname in MODULES:
            mod = importlib.import_module(modname)
            for name in mod.__all__:
                yield modname, name, getattr(mod, name)

    def test_py_typed_ships(self):
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(gdropout.__file__),
                                                    "py.typed")))

    def test_every_public_name_has_a_docstring(self):
        missing = []
        for modname, name, obj in self.names():
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not ours(obj):
                continue  # constants, enum members, re-exported torch things
            if not (obj.__doc__ or "").strip():
                missing.append(f"{modname}.{name}")
            if inspect.isclass(obj) and not issubclass(obj, enum.Enum):
                for mname, fn in public_members(obj):
                    if mname == "__init__":
                        continue  # documented by the class
                    if not (fn.__doc__ or "").strip():
                        missing.append(f"{modname}.{name}.{mname}")
        self.assertEqual(missing, [], "public names without a docstring")

    def test_every_public_function_is_annotated(self):
        missing = []

        def check(where, fn, method=False):
            sig = inspect.signature(fn)
            params = list(sig.parameters.values())
            if method and params and params[0].name in ("self", "cls", "ctx"):
                params = params[1:]
            for p in params:
                if p.annotation is inspect.Parameter.empty:
                    missing.append(f"{where}({p.name})")
            if sig.return_annotation is inspect.Signature.empty:
                missing.append(f"{where} -> ?")

        for modname, name, obj in self.names():
            if not ours(obj):
                continue
            if inspect.isfunction(obj):
                check(f"{modname}.{name}", obj)
            elif inspect.isclass(obj) and not issubclass(obj, enum.Enum):
                for mname, fn in public_members(obj):
                    check(f"{modname}.{name}.{mname}", fn, method=True)
        self.assertEqual(missing, [], "public functions without type hints")


if __name__ == "__main__":
    unittest.main()
