#!/usr/bin/env python3
"""Make TorchSharp 0.107.0's libLibTorchSharp.so load on a libstdc++ older than GCC 13 (Debian 12).

As shipped, libLibTorchSharp.so needs GLIBCXX_3.4.32, for a single symbol (std::ios_base_library_init) that no
relocation refers to, so the dynamic loader refuses it and TorchSharp reports a misleading "package not restored".
This sets VER_FLG_WEAK (0x2) on that version's Vernaux entry in .gnu.version_r: a 1-byte change after which glibc
accepts the library when the version is missing (training.md, "TorchSharp as an independent autograd oracle").
Idempotent: a file already patched (or one that does not need GLIBCXX_3.4.32) is left untouched.
Usage: fix-libtorchsharp.py FILE_OR_DIR...   (directories are searched for libLibTorchSharp.so)
"""
import os
import struct
import sys

VERSION = b"GLIBCXX_3.4.32"
VER_FLG_WEAK = 0x2
SHT_GNU_VERNEED = 0x6FFFFFFE


def patch(path):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"error: {path}: not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh_name, sh_type, _, _, sh_offset, sh_size, sh_link, sh_info, _, _ in sections:
        if sh_type != SHT_GNU_VERNEED:
            continue
        strtab = sections[sh_link][4]
        off = sh_offset
        for _ in range(sh_info):
            vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, off)
            aux = off + vn_aux
            for _ in range(vn_cnt):
                vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                name = data[strtab + vna_name: data.index(b"\0", strtab + vna_name)]
                if name == VERSION:
                    if vna_flags & VER_FLG_WEAK:
                        return f"{path}: already patched"
                    struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                    tmp = path + ".patching"
                    with open(tmp, "wb") as f:
                        f.write(data)
                    os.chmod(tmp, os.stat(path).st_mode)
                    os.replace(tmp, path)
                    return f"{path}: {VERSION.decode()} marked weak"
                aux += vna_next
            off += vn_next
    return f"{path}: does not need {VERSION.decode()} (nothing to do)"


def main(args):
    if not args:
        raise SystemExit(__doc__)
    files = []
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                files += [os.path.join(root, n) for n in names if n == "libLibTorchSharp.so"]
        elif os.path.isfile(a):
            files.append(a)
    for f in files:
        print(patch(f))


if __name__ == "__main__":
    main(sys.argv[1:])
