"""visible_devices.py: CUDA_VISIBLE_DEVICES parsed the way CUDA parses it."""

from __future__ import annotations

import dataclasses

from cudadoctor.facts import DriverFacts, GpuFacts, MigDevice
from cudadoctor.visible_devices import gpu_label, parse_visible_devices, selected_indices
from tests.conftest import env_facts


def _gpus() -> tuple[GpuFacts, ...]:
    drv = env_facts("healthy_h100_cu128").driver
    assert isinstance(drv, DriverFacts) and len(drv.gpus) == 2
    return drv.gpus


def _mig_gpus() -> tuple[GpuFacts, ...]:
    g0, g1 = _gpus()
    migs = tuple(
        MigDevice(index=i, uuid=f"MIG-aaaaaaaa-0000-0000-0000-00000000000{i}", name="1g.10gb", memory_total_mib=9728)
        for i in range(2)
    )
    return dataclasses.replace(g0, mig_enabled=True, mig_devices=migs), g1


def test_indices_select_devices_in_order() -> None:
    vd = parse_visible_devices("1,0", _gpus())
    assert [tok for tok, _ in vd.selected] == ["1", "0"]
    assert vd.visible_count == 2 and vd.uses_indices and vd.stopped_at is None and vd.ignored == ()
    assert selected_indices(vd) == [1, 0]


def test_an_index_past_the_last_gpu_stops_the_list() -> None:
    vd = parse_visible_devices("0,5,1", _gpus())
    assert vd.stopped_at == 1 and "index 5 does not exist" in vd.stop_reason
    assert vd.ignored == ("1",) and vd.visible_count == 1 and not vd.deliberate_stop


def test_minus_one_is_a_deliberate_stop() -> None:
    vd = parse_visible_devices("-1", _gpus())
    assert vd.stopped_at == 0 and vd.deliberate_stop and vd.visible_count == 0
    assert "negative index" in vd.stop_reason


def test_a_repeated_device_empties_the_list() -> None:
    vd = parse_visible_devices("0, 0", _gpus())
    assert vd.duplicate == "0" and vd.visible_count == 0


def test_strtoul_style_indices() -> None:
    vd = parse_visible_devices("1gpu", _gpus())
    assert vd.visible_count == 1 and selected_indices(vd) == [1]


def test_uuid_prefixes() -> None:
    gpus = _gpus()
    vd = parse_visible_devices("GPU-00000001", gpus)
    assert vd.selected == (("GPU-00000001", gpu_label(gpus[1])),) and not vd.uses_indices
    ambiguous = parse_visible_devices("GPU-0000000", gpus)
    assert ambiguous.stopped_at == 0 and "ambiguous" in ambiguous.stop_reason
    nothing = parse_visible_devices("GPU-ffff", gpus)
    assert "matches no GPU UUID" in nothing.stop_reason


def test_mig_uuids() -> None:
    gpus = _mig_gpus()
    vd = parse_visible_devices("MIG-aaaaaaaa-0000-0000-0000-000000000001,MIG-aaaaaaaa-0000-0000-0000-000000000000", gpus)
    assert vd.mig_uuids == ("MIG-aaaaaaaa-0000-0000-0000-000000000001", "MIG-aaaaaaaa-0000-0000-0000-000000000000")
    assert not vd.uses_indices
    legacy = parse_visible_devices(f"MIG-{gpus[0].uuid}/1/0", gpus)
    assert legacy.visible_count == 1 and "a MIG device of GPU 0" in legacy.selected[0][1]
    unknown = parse_visible_devices("MIG-bbbb", gpus)
    assert "matches no MIG device UUID" in unknown.stop_reason


def test_garbage() -> None:
    vd = parse_visible_devices("all", _gpus())
    assert vd.stopped_at == 0 and "neither an index nor" in vd.stop_reason


def test_no_gpus_at_all() -> None:
    vd = parse_visible_devices("0", ())
    assert "can see 0 GPU(s): none" in vd.stop_reason
