"""moto's backends are process-wide, so they reach the runtime attached to the process. A server started while
another runs in the same process (a test's own server beside its folder's) must not leave the first one without a
runtime when it stops."""

from __future__ import annotations

from local_aws.runtime import LocalRuntime, RuntimeConfig, attached_runtime


def _runtime(tmp_path, name: str) -> LocalRuntime:
    return LocalRuntime(RuntimeConfig(state_dir=tmp_path / name, max_concurrent_jobs=1))


def test_the_first_runtime_is_attached_again_when_a_nested_one_detaches(tmp_path):
    before = attached_runtime()
    outer, inner = _runtime(tmp_path, "outer"), _runtime(tmp_path, "inner")
    outer.attach()
    inner.attach()
    assert attached_runtime() is inner
    inner.detach()
    assert attached_runtime() is outer
    outer.detach()
    assert attached_runtime() is before


def test_a_runtime_detached_out_of_order_leaves_the_newest_attached(tmp_path):
    before = attached_runtime()
    outer, inner = _runtime(tmp_path, "outer"), _runtime(tmp_path, "inner")
    outer.attach()
    inner.attach()
    outer.detach()
    assert attached_runtime() is inner
    inner.detach()
    assert attached_runtime() is before
