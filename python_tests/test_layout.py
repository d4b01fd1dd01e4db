"""The source tree's names: no two source files in different folders of the library
(spikekern/, csrc/) share a name, so a search result, a stack trace or a tool that maps modules
by file name never confuses, say, the CUDA kernels with the Triton ones. A header and its
implementation in one folder (output_pool.h / output_pool.cpp) are one module; package
__init__ files are exempt."""
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = {".py", ".cpp", ".cu", ".cuh", ".h", ".inc"}


def test_no_two_folders_hold_a_source_file_of_the_same_name():
    folders = defaultdict(set)
    for top in ("spikekern", "csrc"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in SOURCE_SUFFIXES and path.name != "__init__.py" and path.is_file():
                folders[path.stem].add(str(path.parent.relative_to(ROOT)))
    assert len(folders) > 40, "the scan found too few files to be looking at the source tree"
    shared = {stem: sorted(dirs) for stem, dirs in folders.items() if len(dirs) > 1}
    assert not shared, f"source files of the same name in different folders: {shared}"
