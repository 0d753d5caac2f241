"""What a torch requirement and a base image resolve to (lint/pins.py), against the shipped tables."""

from __future__ import annotations

from packaging.version import Version

from cudadoctor.lint.pins import image_info, resolve_torch, split_ref
from cudadoctor.lint.pipargs import pip_installs

V = Version


def test_torch_pins(tables) -> None:
    local = resolve_torch(tables, "torch==2.5.1+cu121", None)
    assert (local.variant, local.cuda, local.exact) == ("cu121", V("12.1"), True)
    pypi = resolve_torch(tables, "torch==2.5.1", None)
    assert pypi.variant == "cu124" and pypi.from_default_index  # the 2.5 PyPI wheel is built for CUDA 12.4
    index = resolve_torch(tables, "torch==2.5.1", "https://download.pytorch.org/whl/cu118")
    assert index.variant == "cu118" and not index.from_default_index
    newest = resolve_torch(tables, "torch", None)
    assert newest.release == tables.torch.newest and not newest.exact
    # an index serves only the releases built for it: the newest cu121 build, not the newest torch
    served = resolve_torch(tables, "torch", "https://download.pytorch.org/whl/cu121")
    assert served.release is not None and "cu121" in served.release.variants
    ranged = resolve_torch(tables, "torch>=2.0,<2.6", None)
    assert ranged.release is not None and ranged.release.latest == V("2.5.1")


def test_base_images(tables) -> None:
    pt = image_info(tables, "pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime")
    assert (pt.torch, pt.cuda) == (V("2.8.0"), V("12.8"))
    cuda = image_info(tables, "docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04")
    assert cuda.torch is None and cuda.cuda == V("12.4.1")
    ngc = image_info(tables, "nvcr.io/nvidia/pytorch:25.01-py3")
    assert ngc.cuda == V("12.8.0") and ngc.torch is not None
    env = image_info(tables, "myorg/base:1.0", env_cuda="12.6.3")
    assert env.cuda == V("12.6.3") and env.source == "ENV CUDA_VERSION"
    assert split_ref("localhost:5000/img") == ("localhost:5000/img", None, False)
    assert split_ref("img@sha256:abc") == ("img", None, True)


def test_pip_install_lines() -> None:
    (a, b) = pip_installs("apt-get update && python3 -m pip install --no-cache-dir torch==2.5.1 -i https://x/cu121 "
                          "; pip3 install -r req.txt --extra-index-url=https://y torchvision")
    assert a.packages == ("torch==2.5.1",) and a.index_url == "https://x/cu121"
    assert b.requirement_files == ("req.txt",) and b.extra_index_urls == ("https://y",) and b.packages == ("torchvision",)
    assert pip_installs("echo pip is great") == []


def test_a_release_line_pin_fixes_the_variant(tables) -> None:
    line = resolve_torch(tables, "torch==2.5.*", None)
    assert line.line_pinned and not line.exact and line.variant == "cu124"
    assert not resolve_torch(tables, "torch>=2.5", None).line_pinned
