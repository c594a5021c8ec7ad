"""MiniLM small enough to carry to a GPU machine (64 MiB limit): pack it here, unpack it there.

Packed: every weight in fp16 except the word embeddings, which are int8 with one scale per row, and the
file xz-compressed (31 MB instead of 91 MB). Unpacked: fp32 again, within about 0.4% of each original weight; the device
checks compare paths on the same unpacked model, so they do not depend on the difference.

    python scripts/device/unpack_minilm.py --pack MODEL.safetensors FOLDER   # here
    python scripts/device/unpack_minilm.py FOLDER                            # there
"""

import argparse
import lzma
from pathlib import Path

import torch
from safetensors.torch import load, load_file, save, save_file

PACKED = "packed.safetensors.xz"


def pack(weights: Path, folder: Path) -> None:
    packed = {}
    for name, tensor in load_file(str(weights)).items():
        if name.endswith("word_embeddings.weight"):
            scale = tensor.abs().amax(1, keepdim=True) / 127
            packed[name + ".q"], packed[name + ".scale"] = torch.round(tensor / scale).to(torch.int8), scale
        else:
            packed[name] = tensor.half() if tensor.is_floating_point() else tensor
    (folder / PACKED).write_bytes(lzma.compress(save(packed), preset=6))


def unpack(folder: Path) -> None:
    packed, weights = load(lzma.decompress((folder / PACKED).read_bytes())), {}
    for name, tensor in packed.items():
        if name.endswith(".q"):
            weights[name[:-2]] = tensor.float() * packed[name[:-2] + ".scale"]
        elif not name.endswith(".scale"):
            weights[name] = tensor.float() if tensor.is_floating_point() else tensor
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, metavar="MODEL.safetensors")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    pack(args.pack, args.folder) if args.pack else unpack(args.folder)


if __name__ == "__main__":
    main()
