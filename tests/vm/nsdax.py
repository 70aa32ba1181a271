#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An NVDIMM image with DAX, as Kata's image builder makes one.

    nsdax.py size TOTAL          the filesystem's size for an image of TOTAL bytes
    nsdax.py make TOTAL FILESYSTEM OUT

OUT = a header + the filesystem. The header holds, at 4 KiB, the kernel's
"pfn info block" (struct nd_pfn_sb, drivers/nvdimm/pfn.h: PMEM mode, 2 MiB
alignment, Fletcher-64 checksum), and room for the kernel's struct page
array of the whole device (64 bytes a page), rounded up to 2 MiB as the
kernel's own nd_pfn_init computes the data offset, so a raw
(label-less) NVDIMM namespace of qemu's is probed in fsdax mode: its
/dev/pmemN starts at the filesystem and supports DAX. Without it the
kernel sees a raw namespace, and ext4 refuses "-o dax". Written from the
structure's definition; the struct page array the kernel keeps in the
header is its own business (it is rebuilt at each probe).
"""
import os
import struct
import sys
import uuid

ALIGN = 2 << 20
PFN_MODE_PMEM = 2


def header_size(total):
    npfns = (total - 8192) // 4096
    return (8192 + 64 * npfns + ALIGN - 1) // ALIGN * ALIGN


def fletcher64(data):
    lo = hi = 0
    for (w,) in struct.iter_unpack("<I", data):
        lo = (lo + w) & 0xFFFFFFFF
        hi = (hi + lo) & 0xFFFFFFFFFFFFFFFF
    return ((hi << 32) | lo) & 0xFFFFFFFFFFFFFFFF


def info_block(total):
    dataoff = header_size(total)
    head = struct.pack(
        "<16s16s16sIHHQQIIII",
        b"NVDIMM_PFN_INFO\0",
        uuid.uuid4().bytes,
        bytes(16),  # parent uuid: a label-less namespace has none
        0,  # flags
        1, 2,  # version 1.2: page size and struct page size implied
        dataoff,
        (total - dataoff) // 4096,  # npfns
        PFN_MODE_PMEM,
        0, 0,  # start_pad, end_trunc
        ALIGN,
    )
    sb = head + bytes(4096 - 8 - len(head))
    return sb + struct.pack("<Q", fletcher64(sb + bytes(8)))


def main():
    if sys.argv[1] == "size":
        total = int(sys.argv[2])
        print(total - header_size(total))
        return
    total = int(sys.argv[2])
    src, out = sys.argv[3:5]
    hdr = header_size(total)
    if os.path.getsize(src) != total - hdr:
        sys.exit("nsdax.py: the filesystem must be %d bytes" % (total - hdr))
    with open(out, "wb") as f:
        f.write(bytes(4096))
        f.write(info_block(total))
        f.write(bytes(hdr - 8192))
        with open(src, "rb") as s:
            while chunk := s.read(1 << 20):
                f.write(chunk)


if __name__ == "__main__":
    main()
