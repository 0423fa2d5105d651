"""Helpers shared by the Ray backend's modules (no Ray needed)."""

from __future__ import annotations

from datapredict.backends.ray._common import remote_class, short_error


def test_short_error_is_one_uncoloured_line_naming_the_type():
    error = RuntimeError("\x1b[36mray::Actor.__init__()\x1b[39m failed\nsecond line")
    assert short_error(error) == "RuntimeError: ray::Actor.__init__() failed"


def test_short_error_is_capped():
    text = short_error(ValueError("x" * 1000))
    assert len(text) == 300 and text.endswith("...")


def test_remote_class_is_made_once_per_ray_module_and_class():
    class FakeRay:
        calls = 0

        def remote(self, body):
            FakeRay.calls += 1
            return ("remote", body)

    ray = FakeRay()
    assert remote_class(ray, int) is remote_class(ray, int)
    assert remote_class(ray, float) == ("remote", float)
    assert FakeRay.calls == 2
